import { SerialQueue } from "./serial-queue.js";

/** The part of the store's small key-value settings a persisted setting uses (the hub's `Store` port has it). */
export interface SettingStore {
  getSetting(name: string): Promise<unknown | undefined>;
  putSetting(name: string, value: unknown): Promise<void>;
}

/** What an object needs to keep part of its state in a store setting across restarts (decision 0013). */
export interface SettingPersistence {
  readonly store: SettingStore;
  /** Where the failure of a write nobody awaits goes (a debounced flush, a background save). */
  readonly reportError: (error: unknown) => void;
}

export interface PersistedSettingOptions extends SettingPersistence {
  readonly name: string;
  /** The value to store, taken when a write runs rather than when it is asked for. */
  readonly snapshot: () => unknown;
  /** How long after a change `markDirty` writes it; 1000 ms by default. */
  readonly debounceMs?: number;
}

const DEFAULT_DEBOUNCE_MS = 1000;

/**
 * One store setting mirroring in-memory state, written either at once (`save`, for operations acknowledged only
 * once persisted) or at most once per `debounceMs` of changes (`markDirty`, for counters on hot paths), plus a last
 * write at `close`.
 *
 * Writes run one at a time, in order, and each stores the state as it is when the write runs (`snapshot`), so a
 * later write never stores an older state than an earlier one did. The debounce runs on a wall-time timer (unref'd,
 * so it never keeps the process alive), not on hub timers: the hub clock is advanced by tests and jumps.
 */
export class PersistedSetting {
  readonly #store: SettingStore;
  readonly #name: string;
  readonly #snapshot: () => unknown;
  readonly #reportError: (error: unknown) => void;
  readonly #debounceMs: number;
  readonly #writes = new SerialQueue();
  #dirty = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: PersistedSettingOptions) {
    this.#store = options.store;
    this.#name = options.name;
    this.#snapshot = options.snapshot;
    this.#reportError = options.reportError;
    this.#debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  }

  /** Notes a change to write within `debounceMs`. Cheap enough for per-message paths: no I/O, one timer at most. */
  markDirty(): void {
    this.#dirty = true;
    if (this.#timer === undefined && !this.#closed) this.#schedule();
  }

  /** Writes the current state after any write already queued; resolves once it is stored, rejects if it is not. */
  save(): Promise<void> {
    return this.#writes.run(() => this.#write());
  }

  /** `save` for a caller that cannot wait (a synchronous API): a failure goes to `reportError`. */
  saveInBackground(): void {
    this.save().catch(this.#reportError);
  }

  /** Writes the state if it changed since the last write: what the debounce timer runs, and what tests call. */
  flush(): Promise<void> {
    return this.#writes.run(async () => {
      if (this.#dirty) await this.#write();
    });
  }

  /** The hub stops: no more timed writes; resolves once every queued write and a last flush are done. */
  close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    return this.flush();
  }

  #schedule(): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush().catch(this.#reportError);
    }, this.#debounceMs);
    this.#timer.unref();
  }

  async #write(): Promise<void> {
    // Cleared before the snapshot: a change made while the write is in flight marks the state dirty again.
    this.#dirty = false;
    try {
      await this.#store.putSetting(this.#name, this.#snapshot());
    } catch (error) {
      // Tried again on the next change or timer tick, so a store that recovers catches up.
      this.markDirty();
      throw error;
    }
  }
}
