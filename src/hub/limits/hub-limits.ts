import { HubError, isHubError } from "../errors/index.js";
import type { CallContext } from "../call-context.js";
import type { HubEvents } from "../events/hub-event.js";
import type { Clock } from "../ports/clock.js";
import type { HubTimers } from "../timers/hub-timers.js";
import { DailyQuota } from "./daily-quota.js";
import type { DailyMessageCounter } from "./daily-message-counter.js";
import { Throttle } from "./throttle.js";
import type { FeatureName, LimitName, LimitValues, ResolvedLimits, TierFeatures, TierName } from "./tiers.js";

/** Where an operation enters the core; each is admitted once, by the service that runs it. */
export type LimitedOperation =
  | "deviceConnect"
  | "d2cSend"
  | "c2dSend"
  | "c2dReceive"
  | "c2dPurge"
  | "fileUploadStart"
  | "fileUploadComplete"
  | "methodInvoke"
  | "twinRead"
  | "twinUpdate"
  | "query"
  | "registryOp";

type RateName = Extract<LimitName, `${string}PerSecond`>;

interface Rule {
  /** A basic tier refuses the operation with 403010. */
  readonly feature?: FeatureName;
  readonly rate?: RateName;
  /** Only calls over HTTPS are throttled (C2D receives: MQTT and AMQP deliveries are pushed). */
  readonly httpsOnly?: boolean;
  /** "charge": the size is known on entry and counted then; "check": refused when used up, counted after (meter). */
  readonly quota: "charge" | "check" | "free";
}

// Service-protocol.md §7.1 (what the daily quota counts) and §7.2 (which throttle applies).
const RULES: Readonly<Record<LimitedOperation, Rule>> = {
  deviceConnect: { rate: "connectionsPerSecond", quota: "free" },
  d2cSend: { rate: "d2cSendsPerSecond", quota: "charge" },
  c2dSend: { feature: "cloudToDevice", rate: "c2dSendsPerSecond", quota: "free" },
  // Counted when delivered: the receive meters the message it hands out.
  c2dReceive: { feature: "cloudToDevice", rate: "c2dReceivesPerSecond", httpsOnly: true, quota: "check" },
  // Learn, "Choose the right IoT Hub tier": "Purge command queue" is a standard-tier operation.
  c2dPurge: { feature: "cloudToDevice", quota: "free" },
  // File-upload initiation and completion count one message each.
  fileUploadStart: { rate: "fileUploadsPerSecond", quota: "charge" },
  fileUploadComplete: { quota: "charge" },
  // The request counts on entry, the response (or the "+1" of an offline device) when it ends.
  methodInvoke: { feature: "methods", rate: "methodKilobytesPerSecond", quota: "charge" },
  twinRead: { feature: "twins", rate: "twinReadsPerSecond", quota: "check" },
  twinUpdate: { feature: "twins", rate: "twinUpdatesPerSecond", quota: "charge" },
  // Queries return twins, which basic tiers do not have [INF]; charged by result size.
  query: { feature: "twins", rate: "queriesPerSecond", quota: "check" },
  registryOp: { rate: "registryOpsPerSecond", quota: "free" },
};

/** The operations a throttle applies to, each the `operation` of an `operationThrottled` event when refused with 429001. */
export const THROTTLED_OPERATIONS: readonly LimitedOperation[] = (Object.keys(RULES) as LimitedOperation[]).filter((operation) => RULES[operation].rate !== undefined);

const OPERATION_TEXT: Readonly<Record<RateName, string>> = {
  registryOpsPerSecond: "Identity registry operations",
  connectionsPerSecond: "New device connections",
  d2cSendsPerSecond: "Device-to-cloud sends",
  c2dSendsPerSecond: "Cloud-to-device sends",
  c2dReceivesPerSecond: "Cloud-to-device receives",
  fileUploadsPerSecond: "File upload initiations",
  methodKilobytesPerSecond: "Direct methods",
  queriesPerSecond: "Queries",
  twinReadsPerSecond: "Twin reads",
  twinUpdatesPerSecond: "Twin updates",
  jobOpsPerSecond: "Jobs operations",
  jobDeviceOpsPerSecond: "Jobs per-device operations",
};

const FEATURE_TEXT: Readonly<Record<FeatureName, string>> = {
  cloudToDevice: "Cloud-to-device messaging is",
  twins: "Device and module twins are",
  methods: "Direct methods are",
};

// Learn, "IoT Hub quotas and throttling": direct methods are metered in 4 KB blocks of payload.
const METHOD_BLOCK_BYTES = 4096;

/**
 * What `admit` needs of the call: its protocol (C2D receives are throttled on HTTPS only) and tracking id; the caller,
 * when known, names the device or module in the `operationThrottled` event.
 */
export interface AdmitContext {
  readonly protocol: CallContext["protocol"];
  readonly trackingId?: string | undefined;
  readonly caller?: CallContext["caller"] | undefined;
}

export interface HubLimitsDeps {
  readonly clock: Clock;
  readonly timers: HubTimers;
  readonly limits: ResolvedLimits;
  /** The hub's name, for the quota error's text. */
  readonly hubName: string;
  /** The counter the `dailyMessageQuotaUsed` metric reads; a fresh one by default. */
  readonly dailyMessages?: DailyMessageCounter;
  /** Where a call refused with 429001 is reported (`operationThrottled`, the throttling-errors metric). */
  readonly events?: HubEvents;
}

/**
 * The hub's tier, units and limits, applied where operations enter the core: `admit` refuses what the tier lacks
 * (403010), shapes the operation's throttle (a wait, or 429001) and checks or charges the daily quota (403002);
 * `meter` counts what an operation used after the fact; `checkDeviceCount` keeps the registry within its size
 * (413002). Each protocol renders these errors in its own form.
 */
export class HubLimits {
  readonly tier: TierName | undefined;
  readonly units: number;
  readonly features: TierFeatures;
  readonly values: LimitValues;
  readonly quota: DailyQuota;
  readonly #throttles = new Map<RateName, Throttle>();
  readonly #clock: Clock;
  readonly #events: HubEvents | undefined;

  constructor(deps: HubLimitsDeps) {
    const { limits } = deps;
    this.#clock = deps.clock;
    this.#events = deps.events;
    this.tier = limits.tier;
    this.units = limits.units;
    this.features = limits.features;
    this.values = limits.values;
    this.quota = new DailyQuota(deps.clock, { messagesPerDay: limits.values.dailyMessages, meterBytes: limits.values.meterBytes, hubName: deps.hubName }, deps.dailyMessages);
    for (const name of Object.keys(OPERATION_TEXT) as RateName[]) {
      this.#throttles.set(
        name,
        new Throttle(deps.clock, deps.timers, {
          operation: OPERATION_TEXT[name],
          ratePerSecond: limits.values[name],
          burstSeconds: limits.values.throttleBurstSeconds,
          maxWaitMs: limits.values.throttleMaxWaitSeconds * 1000,
          ...(name === "methodKilobytesPerSecond" ? { unit: " KB/s" } : {}),
        }),
      );
    }
  }

  /** The day's message count, in metering blocks (the `dailyMessageQuotaUsed` metric). */
  get dailyMessages(): DailyMessageCounter {
    return this.quota.counter;
  }

  /**
   * Lets an operation in, or throws its refusal. Undefined: go on at once; a promise: go on when it resolves (traffic
   * shaping). `bytes` is the operation's size where the quota counts it on entry (D2C message, method request, twin
   * patch); ignored otherwise.
   */
  admit(ctx: AdmitContext, operation: LimitedOperation, bytes = 0): Promise<void> | undefined {
    const rule = RULES[operation];
    if (rule.feature !== undefined && !this.features[rule.feature]) {
      throw new HubError("OperationNotAvailableInCurrentTier", {
        ...(ctx.trackingId === undefined ? {} : { trackingId: ctx.trackingId }),
        message: `${FEATURE_TEXT[rule.feature]} not available in the ${this.tier ?? "current"} tier of IoT Hub; the standard tiers (S1, S2, S3) and the free tier have them`,
      });
    }
    const throttle = rule.rate === undefined || (rule.httpsOnly === true && ctx.protocol !== "https") ? undefined : this.#throttles.get(rule.rate);
    const cost = operation === "methodInvoke" ? 4 * Math.max(1, Math.ceil(bytes / METHOD_BLOCK_BYTES)) : 1;
    let wait: Promise<void> | undefined;
    try {
      wait = throttle?.take(cost, ctx.trackingId);
    } catch (error) {
      if (isHubError(error) && error.errorName === "ThrottlingException") this.#throttled(ctx, operation);
      throw error;
    }
    if (wait === undefined) {
      this.#quotaStep(ctx, rule, bytes);
      return undefined;
    }
    return wait.then(() => this.#quotaStep(ctx, rule, bytes));
  }

  /** Counts what an admitted operation used once its size is known (a twin read, a delivered C2D message, a reply). */
  meter(bytes: number): void {
    this.quota.meter(bytes);
  }

  /** `meter` for a JSON reply: its UTF-8 length. */
  meterJson(value: unknown): void {
    this.quota.meter(Buffer.byteLength(JSON.stringify(value) ?? ""));
  }

  /**
   * Refuses with 413002 TooManyDevices when adding `adding` devices would take the registry past its size (the free
   * tier's 500, or `--limit devices=`). `count` is asked only when a finite limit applies.
   */
  async checkDeviceCount(ctx: CallContext, adding: number, count: () => Promise<number>): Promise<void> {
    const max = this.values.devices;
    if (max === Infinity || adding <= 0) return;
    const current = await count();
    if (current + adding <= max) return;
    throw new HubError("TooManyDevices", {
      trackingId: ctx.trackingId,
      message: `The IoT hub holds ${current} devices and this request adds ${adding}; ${this.tier === undefined ? "this" : `a ${this.tier}`} hub holds at most ${max} devices`,
    });
  }

  /** Reports a 429001 refusal; a shaped call that waits and then goes is not one. */
  #throttled(ctx: AdmitContext, operation: LimitedOperation): void {
    const caller = ctx.caller?.kind === "device" ? { deviceId: ctx.caller.deviceId, moduleId: ctx.caller.moduleId } : {};
    this.#events?.emit({ type: "operationThrottled", time: this.#clock.now(), operation, protocol: ctx.protocol, ...caller });
  }

  #quotaStep(ctx: AdmitContext, rule: Rule, bytes: number): void {
    if (rule.quota === "charge") this.quota.charge(bytes, ctx.trackingId);
    else if (rule.quota === "check") this.quota.check(ctx.trackingId);
  }
}
