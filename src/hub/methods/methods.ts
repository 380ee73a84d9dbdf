import { HubError, type HubErrorName } from "../errors/index.js";
import type { CallContext } from "../call-context.js";
import { requireRight } from "../auth/service-auth.js";
import type { HubEvents } from "../events/hub-event.js";
import type { Clock } from "../ports/clock.js";
import type { Store } from "../ports/store.js";
import type { Presence } from "../presence/presence.js";
import type { HubTimers } from "../timers/hub-timers.js";
import type { HubLimits } from "../limits/hub-limits.js";
import type { FaultRules } from "../faults/fault-rules.js";
import { checkId } from "../registry/identity-id.js";
import { identityNotFound } from "../registry/not-found.js";

export interface MethodsDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly timers: HubTimers;
  readonly presence: Presence;
  readonly events: HubEvents;
  /** Tier limits: basic tiers have no methods (403010), the method throttle, request and response count as messages. */
  readonly hubLimits?: HubLimits;
  /** Fault injection (decision 0012): a rule that fires fails, delays or drops the call where it enters. */
  readonly faults?: FaultRules;
}

export interface InvokeInput {
  readonly deviceId: string;
  readonly moduleId?: string;
  /** The request body: {methodName, payload, responseTimeoutInSeconds, connectTimeoutInSeconds}. */
  readonly body: unknown;
}

export interface MethodResult {
  readonly status: number;
  readonly payload: unknown;
}

interface Pending {
  readonly deviceId: string;
  readonly moduleId: string;
  /** `size`: bytes of the device's answer, for the DirectMethods resource log's ResponseSize. */
  readonly resolve: (result: MethodResult & { readonly size: number }) => void;
}

// Learn, "Understand direct methods": response timeout 5-300 s (default 30), connect timeout 0-300 s (default 0),
// payloads up to 128 KB each way.
const MAX_PAYLOAD = 128 * 1024;
const MAX_NAME = 100;

function invalid(ctx: CallContext, message: string): HubError {
  return new HubError("ArgumentInvalid", { trackingId: ctx.trackingId, message });
}

function seconds(ctx: CallContext, body: Record<string, unknown>, name: string, fallback: number, min: number, max: number): number {
  const value = body[name] ?? fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(ctx, `'${name}' must be an integer number of seconds from ${min} to ${max}`);
  }
  return value;
}

/** hh:mm:ss, the .NET TimeSpan IoT Hub puts in 404103's info. */
function timeSpan(totalSeconds: number): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(Math.floor(totalSeconds / 3600))}:${pad(Math.floor(totalSeconds / 60) % 60)}:${pad(totalSeconds % 60)}`;
}

/** Direct methods: a back end calls a named method on a connected device and waits for its answer. */
export class Methods {
  readonly #deps: MethodsDeps;
  readonly #pending = new Map<string, Pending>();
  #nextId = 1;

  constructor(deps: MethodsDeps) {
    this.#deps = deps;
  }

  async invoke(ctx: CallContext, input: InvokeInput): Promise<MethodResult> {
    requireRight(ctx, "ServiceConnect");
    const moduleId = input.moduleId ?? "";
    checkId(input.deviceId, "DeviceId", ctx.trackingId);
    if (moduleId !== "") checkId(moduleId, "ModuleId", ctx.trackingId);
    const body = input.body;
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw invalid(ctx, "The request body must be {\"methodName\": …, \"payload\": …}");
    const request = body as Record<string, unknown>;
    const methodName = request["methodName"];
    if (typeof methodName !== "string" || methodName === "" || methodName.length > MAX_NAME || /[\u0000-\u001f$#/+?]/.test(methodName)) {
      throw invalid(ctx, `'methodName' must be a non-empty string of at most ${MAX_NAME} characters without control characters, '$', '#', '/', '+' or '?'`);
    }
    const responseTimeout = seconds(ctx, request, "responseTimeoutInSeconds", 30, 5, 300);
    const connectTimeout = seconds(ctx, request, "connectTimeoutInSeconds", 0, 0, 300);
    const payload = Buffer.from(JSON.stringify(request["payload"] ?? null));
    if (payload.length > MAX_PAYLOAD) {
      throw new HubError("MessageTooLarge", { trackingId: ctx.trackingId, message: `The method payload is ${payload.length} bytes; the limit is ${MAX_PAYLOAD}` });
    }
    try {
      await this.#deps.faults?.enter(ctx, "method.invoke", { deviceId: input.deviceId, moduleId });
      await this.#deps.hubLimits?.admit(ctx, "methodInvoke", payload.length);
    } catch (error) {
      // An injected failure or a throttle's 429001 (or a tier's 403010) is logged as every failed call is: a
      // DirectMethods record with its code.
      if (error instanceof HubError) {
        this.#record({ deviceId: input.deviceId, moduleId }, methodName, error.errorName, this.#deps.clock.now(), { requestSize: payload.length, responseSize: 0, sdkVersion: ctx.client?.sdkVersion });
      }
      throw error;
    }
    const key = { deviceId: input.deviceId, moduleId };
    // A connected identity exists (deleting one closes its connection), so only an unconnected one is looked up.
    if (this.#deps.presence.find(key.deviceId, moduleId) === undefined && (await this.#deps.store.getIdentity(key)) === undefined) {
      throw identityNotFound(key, ctx.trackingId);
    }
    const started = this.#deps.clock.now();
    const connection = await this.#deps.presence.waitForSubscriber(key.deviceId, moduleId, "methods", connectTimeout * 1000);
    const sizes = { requestSize: payload.length, responseSize: 0, sdkVersion: ctx.client?.sdkVersion };
    if (connection === undefined) {
      this.#record(key, methodName, "DeviceNotOnline", started, sizes);
      // Service-protocol.md §7.1: a call to an offline device counts the request plus 1.
      this.#deps.hubLimits?.meter(0);
      throw new HubError("DeviceNotOnline", { trackingId: ctx.trackingId, info: { timeout: timeSpan(connectTimeout) } });
    }
    const requestId = (this.#nextId++).toString(16);
    return new Promise<MethodResult>((resolve, reject) => {
      const timer = this.#deps.timers.after(responseTimeout * 1000, () => {
        this.#pending.delete(requestId);
        this.#record(key, methodName, "GatewayTimeout", started, sizes);
        reject(new HubError("GatewayTimeout", { trackingId: ctx.trackingId, info: { timeout: timeSpan(responseTimeout) } }));
      });
      this.#pending.set(requestId, {
        deviceId: key.deviceId,
        moduleId,
        resolve: (result) => {
          timer.cancel();
          this.#deps.hubLimits?.meter(result.size);
          this.#record(key, methodName, "answered", started, { ...sizes, responseSize: result.size });
          resolve({ status: result.status, payload: result.payload });
        },
      });
      connection.link.sendMethodRequest(requestId, methodName, payload);
    });
  }

  /**
   * The device's answer to request `requestId`. Answers from another identity, to unknown or timed-out requests,
   * are ignored (IoT Hub drops them too); returns whether the answer was taken. The payload must be JSON, as the
   * device SDKs send it; anything else is passed on as a string.
   */
  respond(ctx: CallContext, requestId: string, status: number, payload: Buffer): boolean {
    const pending = this.#pending.get(requestId);
    const caller = ctx.caller;
    if (pending === undefined || caller.kind !== "device" || caller.deviceId !== pending.deviceId || caller.moduleId !== pending.moduleId) return false;
    this.#pending.delete(requestId);
    if (payload.length > MAX_PAYLOAD) {
      pending.resolve({ status, payload: null, size: payload.length });
      return true;
    }
    const text = payload.toString("utf8");
    let value: unknown = null;
    if (text !== "") {
      try {
        value = JSON.parse(text);
      } catch {
        value = text;
      }
    }
    pending.resolve({ status, payload: value, size: payload.length });
    return true;
  }

  #record(
    key: { deviceId: string; moduleId: string },
    methodName: string,
    outcome: "answered" | HubErrorName,
    started: number,
    sizes: { readonly requestSize: number; readonly responseSize: number; readonly sdkVersion: string | undefined },
  ): void {
    const time = this.#deps.clock.now();
    this.#deps.events.emit({ type: "methodInvoked", time, deviceId: key.deviceId, moduleId: key.moduleId, methodName, outcome, durationMs: time - started, ...sizes });
  }
}
