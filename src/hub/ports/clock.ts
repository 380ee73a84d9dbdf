/** The hub's sense of time. Every timer and timestamp in the core reads it, so tests and users can advance it. */
export interface Clock {
  /** Milliseconds since the Unix epoch, on the hub clock. */
  now(): number;
}
