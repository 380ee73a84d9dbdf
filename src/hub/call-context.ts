import type { Right } from "./auth/rights.js";

/** A back-end caller authenticated with a shared access policy. */
export interface PolicyCaller {
  readonly kind: "policy";
  readonly policyName: string;
  readonly rights: readonly Right[];
}

/** A device or module authenticated with its own credentials. */
export interface DeviceCaller {
  readonly kind: "device";
  readonly deviceId: string;
  /** "" for the device itself. */
  readonly moduleId: string;
}

export type Caller = PolicyCaller | DeviceCaller;

/** First argument of every core operation: who calls, over what, and the tracking id of the call. */
export interface CallContext {
  readonly caller: Caller;
  readonly protocol: "https" | "mqtt" | "amqp" | "internal";
  readonly trackingId: string;
}
