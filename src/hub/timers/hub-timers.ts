import type { Clock } from "../ports/clock.js";

export interface TimerHandle {
  cancel(): void;
}

const NOTHING = (): void => undefined;

/**
 * A scheduled callback, and its own handle (no closure per timer: method calls and connects each make one). A
 * cancelled entry lets go of its callback at once, so what the callback holds (a whole method call) is not kept until
 * the entry leaves the heap.
 */
class Entry implements TimerHandle {
  cancelled = false;
  /** Taken off the heap (fired or dropped): cancelling it no longer counts. */
  done = false;

  constructor(
    readonly at: number,
    readonly seq: number,
    public fn: () => void,
    private readonly onCancel: () => void,
  ) {}

  cancel(): void {
    if (this.cancelled || this.done) return;
    this.cancelled = true;
    this.fn = NOTHING;
    this.onCancel();
  }
}

/** The heap is rebuilt without its cancelled entries once they are this many and at least half of it. */
const COMPACT_AFTER = 1024;

/**
 * Timers on the hub clock: method timeouts, token expiry of live connections, keep-alive, C2D locks and TTLs. One
 * real timer waits for the earliest entry; advancing the hub clock fires everything that became due at once, so
 * tests and users reach a timeout without waiting (DESIGN.md rule 5).
 */
export class HubTimers {
  readonly #clock: Clock;
  readonly #onError: (error: unknown) => void;
  readonly #heap: Entry[] = [];
  #seq = 0;
  #real: ReturnType<typeof setTimeout> | undefined;
  #realAt = Infinity;
  /** Cancelled entries still in the heap (a method call's timeout is cancelled by its answer, long before it is due). */
  #cancelled = 0;
  readonly #onCancel = (): void => {
    this.#cancelled++;
    if (this.#cancelled >= COMPACT_AFTER && this.#cancelled * 2 >= this.#heap.length) this.#compact();
  };

  /** `onError` hears about callbacks that throw; one failing callback never stops the others. */
  constructor(clock: Clock, onError: (error: unknown) => void) {
    this.#clock = clock;
    this.#onError = onError;
  }

  /** Runs `fn` once the hub clock reaches `at` (ms since epoch). */
  at(at: number, fn: () => void): TimerHandle {
    const entry = new Entry(at, this.#seq++, fn, this.#onCancel);
    this.#push(entry);
    if (at < this.#realAt) this.#arm();
    return entry;
  }

  /** Runs `fn` after `ms` of hub time. */
  after(ms: number, fn: () => void): TimerHandle {
    return this.at(this.#clock.now() + ms, fn);
  }

  /** Fires what is due now; call after the hub clock moved forward. */
  poke(): void {
    this.#fireDue();
  }

  /** Drops every timer (hub shutdown). */
  clear(): void {
    for (const entry of this.#heap) entry.done = true;
    this.#heap.length = 0;
    this.#cancelled = 0;
    if (this.#real !== undefined) clearTimeout(this.#real);
    this.#real = undefined;
    this.#realAt = Infinity;
  }

  #fireDue(): void {
    const now = this.#clock.now();
    for (;;) {
      const top = this.#heap[0];
      if (top === undefined || top.at > now) break;
      this.#pop();
      if (top.cancelled) continue;
      try {
        top.fn();
      } catch (error) {
        this.#onError(error);
      }
    }
    this.#arm();
  }

  #arm(): void {
    while (this.#heap[0]?.cancelled === true) this.#pop();
    const next = this.#heap[0];
    if (this.#real !== undefined) clearTimeout(this.#real);
    this.#real = undefined;
    this.#realAt = Infinity;
    if (next === undefined) return;
    // setTimeout caps at ~24.8 days; a later timer simply re-arms when this one fires.
    const delay = Math.min(Math.max(next.at - this.#clock.now(), 0), 2 ** 31 - 1);
    this.#realAt = next.at;
    this.#real = setTimeout(() => this.#fireDue(), delay);
    this.#real.unref();
  }

  #less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #push(entry: Entry): void {
    const heap = this.#heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  /** Rebuilds the heap from its live entries: sorted by (at, seq), which is a valid heap. */
  #compact(): void {
    const heap = this.#heap;
    const live: Entry[] = [];
    for (const entry of heap) {
      if (entry.cancelled) entry.done = true;
      else live.push(entry);
    }
    live.sort((a, b) => a.at - b.at || a.seq - b.seq);
    heap.length = 0;
    for (const entry of live) heap.push(entry);
    this.#cancelled = 0;
  }

  #pop(): void {
    const heap = this.#heap;
    const top = heap[0];
    if (top !== undefined) {
      top.done = true;
      if (top.cancelled) this.#cancelled--;
    }
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let smallest = i;
      if (l < heap.length && this.#less(heap[l]!, heap[smallest]!)) smallest = l;
      if (r < heap.length && this.#less(heap[r]!, heap[smallest]!)) smallest = r;
      if (smallest === i) break;
      [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
      i = smallest;
    }
  }
}
