import { HUB_ERRORS, type ErrorSpec, type HubErrorName } from "./catalog.js";

export interface HubErrorOptions {
  /** Replaces the catalog's default message; say what was wrong with the caller's input. */
  readonly message?: string;
  readonly trackingId?: string;
  /** Extra facts rendered where the wire has room for them (e.g. the method timeout). */
  readonly info?: Readonly<Record<string, unknown>>;
  readonly cause?: unknown;
}

/** An IoT Hub error raised by name in the core; each gateway renders it in its own wire form. */
export class HubError extends Error {
  override readonly name = "HubError";
  readonly errorName: HubErrorName;
  readonly spec: ErrorSpec;
  readonly trackingId: string | undefined;
  readonly info: Readonly<Record<string, unknown>> | undefined;

  constructor(errorName: HubErrorName, options: HubErrorOptions = {}) {
    const spec = HUB_ERRORS[errorName];
    super(options.message ?? spec.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.errorName = errorName;
    this.spec = spec;
    this.trackingId = options.trackingId;
    this.info = options.info;
  }

  get code(): number {
    return this.spec.code;
  }
}

export function isHubError(value: unknown): value is HubError {
  return value instanceof HubError;
}
