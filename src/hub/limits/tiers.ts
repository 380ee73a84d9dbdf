/**
 * IoT Hub's editions and what each allows (service-protocol.md §7, from Learn "IoT Hub quotas and throttling",
 * "Choose the right IoT Hub tier" and the pricing page): the daily message quota and its metering block, units per
 * hub, per-operation throttles, the features basic tiers lack and the free tier's device count. `resolveLimits` turns
 * (tier, units, overrides) into the numbers the hub enforces. docs/limits.md lists every value with its source.
 */

export const TIER_NAMES = ["F1", "B1", "B2", "B3", "S1", "S2", "S3"] as const;
export type TierName = (typeof TIER_NAMES)[number];

/** What a basic tier lacks (Learn, "Choose the right IoT Hub tier": basic has no C2D, twins or direct methods). */
export interface TierFeatures {
  readonly cloudToDevice: boolean;
  readonly twins: boolean;
  readonly methods: boolean;
}
export type FeatureName = keyof TierFeatures;

/**
 * Every limit the hub enforces, by the name `--limit name=value` overrides. Rates are per second for the whole hub
 * (units already applied); Infinity means not enforced.
 */
export interface LimitValues {
  /** Messages per day for the whole hub, counted in metering blocks; reset at 00:00 UTC. */
  readonly dailyMessages: number;
  /** The metering block of the daily quota, in bytes: 4 KB, 0.5 KB on the free tier. */
  readonly meterBytes: number;
  /** Device identities in the registry (modules not counted). */
  readonly devices: number;
  readonly registryOpsPerSecond: number;
  readonly connectionsPerSecond: number;
  readonly d2cSendsPerSecond: number;
  readonly c2dSendsPerSecond: number;
  /** Cloud-to-device receives of HTTPS devices (MQTT and AMQP deliveries are pushed, not throttled). */
  readonly c2dReceivesPerSecond: number;
  readonly fileUploadsPerSecond: number;
  /** Direct methods, metered in 4 KB blocks of the request payload (a 0-4 KB payload costs 4 KB). */
  readonly methodKilobytesPerSecond: number;
  readonly queriesPerSecond: number;
  readonly twinReadsPerSecond: number;
  readonly twinUpdatesPerSecond: number;
  /** Jobs CRUD; kept for completeness, Malachite has no jobs API yet. */
  readonly jobOpsPerSecond: number;
  /** Per-device job operations; kept for completeness, Malachite has no jobs API yet. */
  readonly jobDeviceOpsPerSecond: number;
  /** Traffic shaping: a throttle's bucket holds this many seconds of its rate (the burst served at once). */
  readonly throttleBurstSeconds: number;
  /** Traffic shaping: a call that would wait longer than this in the backlog is refused with 429001. */
  readonly throttleMaxWaitSeconds: number;
}
export type LimitName = keyof LimitValues;

/** The resolved limits of a hub: its tier (undefined: none chosen, nothing enforced but the overrides). */
export interface ResolvedLimits {
  readonly tier: TierName | undefined;
  readonly units: number;
  readonly features: TierFeatures;
  readonly values: LimitValues;
}

export interface LimitsInput {
  readonly tier?: string | undefined;
  readonly units?: number | undefined;
  /** `--limit name=value`; Infinity lifts a limit. */
  readonly overrides?: Readonly<Record<string, number>> | undefined;
}

export type ResolveLimitsResult = { ok: true; limits: ResolvedLimits } | { ok: false; problems: string[] };

const MINUTE = 60;

/** Traffic shaping is not published (service-protocol.md §7.3): these are Malachite's choices (decision 0011). */
const SHAPING = { throttleBurstSeconds: 60, throttleMaxWaitSeconds: 10 } as const;

type Family = "free" | "1" | "2" | "3";

interface TierRow {
  readonly family: Family;
  readonly basic: boolean;
  /** Learn, "IoT Hub pricing": messages/day/unit. */
  readonly messagesPerUnit: number;
  readonly meterBytes: number;
  /** Learn, "Choose the right IoT Hub tier": units per hub. */
  readonly maxUnits: number;
}

const TIERS: Readonly<Record<TierName, TierRow>> = {
  F1: { family: "free", basic: false, messagesPerUnit: 8_000, meterBytes: 512, maxUnits: 1 },
  B1: { family: "1", basic: true, messagesPerUnit: 400_000, meterBytes: 4096, maxUnits: 200 },
  S1: { family: "1", basic: false, messagesPerUnit: 400_000, meterBytes: 4096, maxUnits: 200 },
  B2: { family: "2", basic: true, messagesPerUnit: 6_000_000, meterBytes: 4096, maxUnits: 200 },
  S2: { family: "2", basic: false, messagesPerUnit: 6_000_000, meterBytes: 4096, maxUnits: 200 },
  B3: { family: "3", basic: true, messagesPerUnit: 300_000_000, meterBytes: 4096, maxUnits: 10 },
  S3: { family: "3", basic: false, messagesPerUnit: 300_000_000, meterBytes: 4096, maxUnits: 10 },
};

// Learn, "IoT Hub quotas and throttling", throttle table (service-protocol.md §7.2). The free tier shares the
// "Free, B1, S1" column. Rates per second for `u` units.
function rates(family: Family, u: number): Omit<LimitValues, "dailyMessages" | "meterBytes" | "devices" | "throttleBurstSeconds" | "throttleMaxWaitSeconds"> {
  switch (family) {
    case "free":
    case "1":
      return {
        registryOpsPerSecond: (100 / MINUTE) * u,
        connectionsPerSecond: Math.max(100, 12 * u),
        d2cSendsPerSecond: Math.max(100, 12 * u),
        c2dSendsPerSecond: (100 / MINUTE) * u,
        c2dReceivesPerSecond: (1000 / MINUTE) * u,
        fileUploadsPerSecond: (100 / MINUTE) * u,
        methodKilobytesPerSecond: 160 * u,
        queriesPerSecond: (20 / MINUTE) * u,
        twinReadsPerSecond: 100,
        twinUpdatesPerSecond: 50,
        jobOpsPerSecond: (100 / MINUTE) * u,
        jobDeviceOpsPerSecond: 10,
      };
    case "2":
      return {
        registryOpsPerSecond: (100 / MINUTE) * u,
        connectionsPerSecond: 120 * u,
        d2cSendsPerSecond: 120 * u,
        c2dSendsPerSecond: (100 / MINUTE) * u,
        c2dReceivesPerSecond: (1000 / MINUTE) * u,
        fileUploadsPerSecond: (100 / MINUTE) * u,
        methodKilobytesPerSecond: 480 * u,
        queriesPerSecond: (20 / MINUTE) * u,
        twinReadsPerSecond: Math.max(100, 10 * u),
        twinUpdatesPerSecond: Math.max(50, 5 * u),
        jobOpsPerSecond: (100 / MINUTE) * u,
        jobDeviceOpsPerSecond: Math.max(10, u),
      };
    case "3":
      return {
        registryOpsPerSecond: (5000 / MINUTE) * u,
        connectionsPerSecond: 6000 * u,
        d2cSendsPerSecond: 6000 * u,
        c2dSendsPerSecond: (5000 / MINUTE) * u,
        c2dReceivesPerSecond: (50_000 / MINUTE) * u,
        fileUploadsPerSecond: (5000 / MINUTE) * u,
        // "24 MB/s/unit": 50 × S2's 480 KB, as every other S3 rate is 50 × S2's.
        methodKilobytesPerSecond: 24_000 * u,
        queriesPerSecond: (1000 / MINUTE) * u,
        twinReadsPerSecond: 500 * u,
        twinUpdatesPerSecond: 250 * u,
        jobOpsPerSecond: (5000 / MINUTE) * u,
        jobDeviceOpsPerSecond: 50 * u,
      };
  }
}

// Service-protocol.md §7.4: a free hub holds at most 500 devices [INF, pricing page]; any hub at most 1,000,000
// devices plus modules (Learn, quotas; support can raise it).
const FREE_DEVICES = 500;
const MAX_DEVICES = 1_000_000;

const UNLIMITED: LimitValues = {
  dailyMessages: Infinity,
  meterBytes: 4096,
  devices: Infinity,
  registryOpsPerSecond: Infinity,
  connectionsPerSecond: Infinity,
  d2cSendsPerSecond: Infinity,
  c2dSendsPerSecond: Infinity,
  c2dReceivesPerSecond: Infinity,
  fileUploadsPerSecond: Infinity,
  methodKilobytesPerSecond: Infinity,
  queriesPerSecond: Infinity,
  twinReadsPerSecond: Infinity,
  twinUpdatesPerSecond: Infinity,
  jobOpsPerSecond: Infinity,
  jobDeviceOpsPerSecond: Infinity,
  ...SHAPING,
};

/** Every name `--limit` accepts, in the order docs/limits.md lists them. */
export const LIMIT_NAMES: readonly LimitName[] = Object.keys(UNLIMITED) as LimitName[];

export function isTierName(value: string): value is TierName {
  return (TIER_NAMES as readonly string[]).includes(value);
}

export function isLimitName(value: string): value is LimitName {
  return (LIMIT_NAMES as readonly string[]).includes(value);
}

/** The most units a hub of `tier` can have. */
export function maxUnits(tier: TierName): number {
  return TIERS[tier].maxUnits;
}

/** The limits of one tier with `units` units, before overrides. */
export function tierLimits(tier: TierName, units: number): LimitValues {
  const row = TIERS[tier];
  return {
    dailyMessages: row.messagesPerUnit * units,
    meterBytes: row.meterBytes,
    devices: row.family === "free" ? FREE_DEVICES : MAX_DEVICES,
    ...rates(row.family, units),
    ...SHAPING,
  };
}

/**
 * Why an override value is unusable, or undefined when it is fine. Counts and sizes are whole numbers; rates may be
 * fractions (IoT Hub's own are, e.g. 100/min = 1.67/s); every value must be positive, Infinity lifts the limit.
 */
export function checkLimitValue(name: LimitName, value: number): string | undefined {
  if (typeof value !== "number" || Number.isNaN(value)) return "is not a number";
  if (value === Infinity) return name === "meterBytes" || name === "throttleBurstSeconds" || name === "throttleMaxWaitSeconds" ? "must be finite" : undefined;
  if (!Number.isFinite(value)) return "must be finite";
  const whole = name === "dailyMessages" || name === "meterBytes" || name === "devices";
  if (whole && !Number.isInteger(value)) return "must be a whole number";
  if (name === "throttleMaxWaitSeconds" ? value < 0 : value <= 0) return name === "throttleMaxWaitSeconds" ? "must be 0 or more" : "must be more than 0";
  return undefined;
}

/**
 * The limits the hub enforces. No tier: nothing is enforced except the overrides (decision 0011); a tier: its
 * published limits for `units` units (default 1), then the overrides. Problems name the valid choices.
 */
export function resolveLimits(input: LimitsInput): ResolveLimitsResult {
  const problems: string[] = [];
  let tier: TierName | undefined;
  if (input.tier !== undefined) {
    if (isTierName(input.tier)) tier = input.tier;
    else problems.push(`tier ${JSON.stringify(input.tier)} is not an IoT Hub tier (one of ${TIER_NAMES.join(", ")})`);
  }
  const units = input.units ?? 1;
  if (!Number.isInteger(units) || units < 1) problems.push(`units ${String(input.units)} must be a whole number of at least 1`);
  else if (tier !== undefined && units > maxUnits(tier)) problems.push(`units ${units} is more than a ${tier} hub can have (at most ${maxUnits(tier)})`);
  else if (input.tier === undefined && input.units !== undefined) problems.push(`units ${units} applies to a tier: choose one too (one of ${TIER_NAMES.join(", ")})`);
  const overrides: Partial<Record<LimitName, number>> = {};
  for (const [name, value] of Object.entries(input.overrides ?? {})) {
    if (!isLimitName(name)) {
      problems.push(`limit "${name}" is not a limit name (one of ${LIMIT_NAMES.join(", ")})`);
      continue;
    }
    const reason = checkLimitValue(name, value);
    if (reason !== undefined) problems.push(`limit ${name}=${String(value)} ${reason}`);
    else overrides[name] = value;
  }
  if (problems.length > 0) return { ok: false, problems };
  const base = tier === undefined ? UNLIMITED : tierLimits(tier, units);
  const basic = tier !== undefined && TIERS[tier].basic;
  return {
    ok: true,
    limits: {
      tier,
      units,
      features: { cloudToDevice: !basic, twins: !basic, methods: !basic },
      values: { ...base, ...overrides },
    },
  };
}

/** `name=value` (value a number or "unlimited"), as `--limit` and MALACHITE_LIMITS spell one override. */
export function parseLimitAssignment(text: string): { ok: true; name: string; value: number } | { ok: false; reason: string } {
  const match = /^\s*([A-Za-z0-9]+)\s*=\s*(\S+)\s*$/.exec(text);
  if (match === null) return { ok: false, reason: `${JSON.stringify(text)} is not name=value (e.g. dailyMessages=30)` };
  const raw = match[2]!;
  const value = /^unlimited$/i.test(raw) ? Infinity : /^[0-9]+(\.[0-9]+)?$/.test(raw) ? Number(raw) : NaN;
  if (Number.isNaN(value)) return { ok: false, reason: `${JSON.stringify(text)}: ${JSON.stringify(raw)} is not a number or "unlimited"` };
  return { ok: true, name: match[1]!, value };
}
