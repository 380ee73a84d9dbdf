export { DailyMessageCounter, quotaBlocks, QUOTA_BLOCK_BYTES } from "./daily-message-counter.js";
export { DailyQuota, type DailyQuotaSettings } from "./daily-quota.js";
export { Throttle, type ThrottleSettings } from "./throttle.js";
export { HubLimits, THROTTLED_OPERATIONS, type AdmitContext, type HubLimitsDeps, type LimitedOperation } from "./hub-limits.js";
export {
  LIMIT_NAMES,
  TIER_NAMES,
  checkLimitValue,
  isLimitName,
  isTierName,
  maxUnits,
  parseLimitAssignment,
  resolveLimits,
  tierLimits,
  type FeatureName,
  type LimitName,
  type LimitValues,
  type LimitsInput,
  type ResolvedLimits,
  type ResolveLimitsResult,
  type TierFeatures,
  type TierName,
} from "./tiers.js";
