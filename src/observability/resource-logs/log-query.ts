import { RESOURCE_LOG_CATEGORIES, type ResourceLogCategory } from "./render-record.js";

/** Which records `GET /admin/logs` and `malachite logs` ask for; the answer is the newest `limit` matches, oldest first. */
export interface ResourceLogQuery {
  readonly category?: ResourceLogCategory;
  readonly deviceId?: string;
  /** Hub time (ms since epoch): only records at or after it. */
  readonly since?: number;
  readonly limit: number;
}

export const DEFAULT_LOG_LIMIT = 1000;
export const MAX_LOG_LIMIT = 10_000;

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * `since` as a point in hub time: an ISO-8601 time (`2026-03-04T10:15:00Z`), or a duration back from `now` (`90s`,
 * `10m`, `2h`, `7d`). Undefined when the text is neither.
 */
export function parseSince(text: string, now: number): number | undefined {
  const duration = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  if (duration !== null) return now - Number(duration[1]) * UNITS[duration[2]!]!;
  // Only date-shaped text: Date.parse also takes forms like "1" or "March 7" that would surprise.
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return undefined;
  const time = Date.parse(text);
  return Number.isNaN(time) ? undefined : time;
}

/** The category as Azure spells it, matched case-insensitively (KQL users type `connections` too). */
export function parseCategory(text: string): ResourceLogCategory | undefined {
  return RESOURCE_LOG_CATEGORIES.find((c) => c.toLowerCase() === text.toLowerCase());
}

export type ParsedLogQuery = { readonly ok: true; readonly query: ResourceLogQuery } | { readonly ok: false; readonly message: string };

const KNOWN_PARAMETERS = new Set(["category", "deviceId", "since", "limit", "api-version"]);

/** Reads `?category=&deviceId=&since=&limit=`; `now` is hub time, which durations count back from. */
export function parseLogQuery(parameters: Readonly<Record<string, unknown>>, now: number): ParsedLogQuery {
  const unknown = Object.keys(parameters).filter((name) => !KNOWN_PARAMETERS.has(name));
  if (unknown.length > 0) return { ok: false, message: `Unknown query parameter '${unknown[0]}': use category, deviceId, since and limit` };
  const text = (name: string): string | undefined | null => {
    const value = parameters[name];
    if (value === undefined) return undefined;
    return typeof value === "string" ? value : null;
  };
  let query: { category?: ResourceLogCategory; deviceId?: string; since?: number; limit: number } = { limit: DEFAULT_LOG_LIMIT };

  const category = text("category");
  if (category === null) return { ok: false, message: "'category' must be given once" };
  if (category !== undefined) {
    const known = parseCategory(category);
    if (known === undefined) return { ok: false, message: `'category' must be one of ${RESOURCE_LOG_CATEGORIES.join(", ")}; got '${category}'` };
    query = { ...query, category: known };
  }

  const deviceId = text("deviceId");
  if (deviceId === null || deviceId === "" || (deviceId !== undefined && deviceId.length > 128)) {
    return { ok: false, message: "'deviceId' must be a device id of 1 to 128 characters, given once" };
  }
  if (deviceId !== undefined) query = { ...query, deviceId };

  const since = text("since");
  if (since === null) return { ok: false, message: "'since' must be given once" };
  if (since !== undefined) {
    const time = parseSince(since, now);
    if (time === undefined) return { ok: false, message: `'since' must be an ISO-8601 time (2026-03-04T10:15:00Z) or a duration such as 90s, 10m, 2h or 7d; got '${since}'` };
    query = { ...query, since: time };
  }

  const limit = text("limit");
  if (limit === null) return { ok: false, message: "'limit' must be given once" };
  if (limit !== undefined) {
    const n = /^\d+$/.test(limit) ? Number(limit) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > MAX_LOG_LIMIT) return { ok: false, message: `'limit' must be a whole number from 1 to ${MAX_LOG_LIMIT}; got '${limit}'` };
    query = { ...query, limit: n };
  }
  return { ok: true, query };
}
