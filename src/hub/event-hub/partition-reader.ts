import type { HubEvents } from "../events/hub-event.js";
import type { TelemetryLog, TelemetryRecord } from "../ports/telemetry-log.js";

/**
 * Tells readers that a partition received events, from the `telemetryAccepted` hub event (emitted once the record is
 * durable, so a read it triggers finds it): receivers wait for events without polling the log.
 */
export class TelemetryFollowers {
  readonly #listeners = new Map<number, Set<() => void>>();
  readonly #reportError: (error: unknown) => void;

  constructor(events: HubEvents, reportError: (error: unknown) => void) {
    this.#reportError = reportError;
    events.on((event) => {
      if (event.type === "telemetryAccepted") this.notify(event.partition);
    });
  }

  /** Calls `listener` after each append to `partition`; returns the unsubscribe function. */
  onAppended(partition: number, listener: () => void): () => void {
    let set = this.#listeners.get(partition);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(partition, set);
    }
    // A wrapper, so one listener function may follow twice and be unsubscribed once per follow.
    const entry = (): void => listener();
    set.add(entry);
    return () => {
      set.delete(entry);
      if (set.size === 0 && this.#listeners.get(partition) === set) this.#listeners.delete(partition);
    };
  }

  /** Records were appended to `partition`. */
  notify(partition: number): void {
    const set = this.#listeners.get(partition);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        listener();
      } catch (error) {
        this.#reportError(error);
      }
    }
  }
}

export interface PartitionReaderOptions {
  readonly log: TelemetryLog;
  readonly followers: TelemetryFollowers;
  readonly partition: number;
  /** The first sequence number to deliver (see resolveStartSequenceNumber). */
  readonly startSequenceNumber: number;
  /**
   * For an enqueued-time position: skip events enqueued at or before this time (before it when `inclusive`). The
   * start sequence number already points past the ones in the log; this also covers a time in the future.
   */
  readonly enqueuedAfter?: { readonly time: number; readonly inclusive: boolean };
}

// One read never asks the log for more than this, whatever credit the client gave.
const MAX_PAGE = 1000;

/**
 * One receiver's cursor on one partition. The gateway calls `next(credit)` and, when it returns nothing, waits for
 * `onAvailable` (or `waitForEvents()`); events removed by retention are skipped, as Event Hubs moves a receiver to
 * the oldest retained event.
 */
export class PartitionReader {
  readonly partition: number;
  readonly #log: TelemetryLog;
  #cursor: number;
  #enqueuedAfter: { readonly time: number; readonly inclusive: boolean } | undefined;
  /** Set by every append notification, cleared when a read starts: a notification during a read is not lost. */
  #appended = false;
  #closed = false;
  #reading: Promise<unknown> = Promise.resolve();
  readonly #listeners = new Set<() => void>();
  readonly #waiters: Array<() => void> = [];
  readonly #unfollow: () => void;

  constructor(options: PartitionReaderOptions) {
    this.partition = options.partition;
    this.#log = options.log;
    this.#cursor = options.startSequenceNumber;
    this.#enqueuedAfter = options.enqueuedAfter;
    this.#unfollow = options.followers.onAppended(options.partition, () => this.#onAppended());
  }

  /** The sequence number the next event delivered will have at the least. */
  get position(): number {
    return this.#cursor;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Up to `max` events from the cursor on, in sequence order; advances the cursor past them. Resolves with [] when
   * nothing is available yet (or the reader is closed). Calls are served one after another.
   */
  next(max: number): Promise<TelemetryRecord[]> {
    const result = this.#reading.then(() => this.#read(max));
    this.#reading = result.catch(() => undefined);
    return result;
  }

  /** Calls `listener` whenever events may have become available; returns the unsubscribe function. */
  onAvailable(listener: () => void): () => void {
    const entry = (): void => listener();
    this.#listeners.add(entry);
    return () => void this.#listeners.delete(entry);
  }

  /** Resolves once an append happened since the last `next` started (at once if one did), or the reader closed. */
  waitForEvents(): Promise<void> {
    if (this.#appended || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Stops following the partition; pending waits resolve and later reads return nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unfollow();
    this.#listeners.clear();
    for (const resolve of this.#waiters.splice(0)) resolve();
  }

  async #read(max: number): Promise<TelemetryRecord[]> {
    const limit = Math.min(Math.floor(max), MAX_PAGE);
    if (this.#closed || !(limit > 0)) return [];
    this.#appended = false;
    // A time filter may drop a whole page; keep reading until something passes or the log has no more.
    for (;;) {
      const records = await this.#log.read({ partition: this.partition, fromSequenceNumber: this.#cursor, limit });
      if (this.#closed || records.length === 0) return [];
      // The log returns from the oldest retained event when the cursor's events were trimmed: the cursor jumps there.
      this.#cursor = records[records.length - 1]!.sequenceNumber + 1;
      const after = this.#enqueuedAfter;
      if (after === undefined) return records;
      const passing = records.filter((r) => (after.inclusive ? r.enqueuedTime >= after.time : r.enqueuedTime > after.time));
      // Enqueued times only grow within a partition: once one event passes, every later one does.
      if (passing.length > 0) {
        this.#enqueuedAfter = undefined;
        return passing;
      }
    }
  }

  #onAppended(): void {
    this.#appended = true;
    for (const resolve of this.#waiters.splice(0)) resolve();
    for (const listener of [...this.#listeners]) listener();
  }
}
