import { readFileSync, accessSync, constants as fsConstants } from "node:fs";
import { dirname, resolve } from "node:path";
import { DEFAULT_CONFIG, LOG_LEVELS, type Config } from "./config.js";
import { deepFreeze } from "./deep-freeze.js";
import { hubNameFromHostName, isValidBindAddress, isValidHostName, isValidHubName } from "./names.js";
import { isValidContainerName, parseStorageConnectionString } from "../storage/blob/connection-string.js";
import { LIMIT_NAMES, TIER_NAMES, checkLimitValue, isLimitName, isTierName, maxUnits, parseLimitAssignment } from "../hub/limits/tiers.js";

export type LoadConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

export interface LoadConfigInput {
  /** Parsed command-line options, camelCase keys as commander produces them (`httpsPort`, `config`, ...). */
  readonly flags: Record<string, unknown>;
  /** The process environment, passed in so that only `main.ts` touches `process.env`. */
  readonly env: Record<string, string | undefined>;
}

type Kind = "path" | "hostName" | "hubName" | "bind" | "port" | "logLevel" | "storageConnectionString" | "container" | "sasTtl" | "boolean" | "tier" | "units" | "limits";

interface Setting {
  readonly key: keyof Config;
  readonly env: string;
  readonly kind: Kind;
  /** The option's key as commander produces it, when it differs from the config key (`--limit` → `limit`). */
  readonly flag?: string;
}

/** Every configurable key, its environment variable and how its value is checked. */
export const SETTINGS: readonly Setting[] = [
  { key: "dataDir", env: "MALACHITE_DATA_DIR", kind: "path" },
  { key: "hostName", env: "MALACHITE_HOST_NAME", kind: "hostName" },
  { key: "hubName", env: "MALACHITE_HUB_NAME", kind: "hubName" },
  { key: "bind", env: "MALACHITE_BIND", kind: "bind" },
  { key: "httpsPort", env: "MALACHITE_HTTPS_PORT", kind: "port" },
  { key: "mqttPort", env: "MALACHITE_MQTT_PORT", kind: "port" },
  { key: "mqttPlainPort", env: "MALACHITE_MQTT_PLAIN_PORT", kind: "port" },
  { key: "amqpPort", env: "MALACHITE_AMQP_PORT", kind: "port" },
  { key: "metricsPort", env: "MALACHITE_METRICS_PORT", kind: "port" },
  { key: "tlsCert", env: "MALACHITE_TLS_CERT", kind: "path" },
  { key: "tlsKey", env: "MALACHITE_TLS_KEY", kind: "path" },
  { key: "logLevel", env: "MALACHITE_LOG_LEVEL", kind: "logLevel" },
  { key: "storageConnectionString", env: "MALACHITE_STORAGE_CONNECTION_STRING", kind: "storageConnectionString" },
  { key: "storageContainer", env: "MALACHITE_STORAGE_CONTAINER", kind: "container" },
  { key: "fileUploadSasTtlSeconds", env: "MALACHITE_FILE_UPLOAD_SAS_TTL_SECONDS", kind: "sasTtl" },
  { key: "fileNotifications", env: "MALACHITE_FILE_NOTIFICATIONS", kind: "boolean" },
  { key: "tier", env: "MALACHITE_TIER", kind: "tier" },
  { key: "units", env: "MALACHITE_UNITS", kind: "units" },
  // Repeatable `--limit name=value`; env "a=1,b=2"; config file {"limits": {"a": 1}}. Merged per name, flags winning.
  { key: "limits", env: "MALACHITE_LIMITS", kind: "limits", flag: "limit" },
];

export const CONFIG_FILE_ENV = "MALACHITE_CONFIG";
const CONFIG_FLAG = "config";

/** `httpsPort` → `--https-port`, the spelling users typed. */
export function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

type Origin =
  | { readonly kind: "file"; readonly path: string; readonly key: string }
  | { readonly kind: "env"; readonly name: string }
  | { readonly kind: "flag"; readonly name: string };

function describe(origin: Origin): string {
  switch (origin.kind) {
    case "file":
      return `config file ${origin.path} (key "${origin.key}")`;
    case "env":
      return `env ${origin.name}`;
    case "flag":
      return `flag ${origin.name}`;
  }
}

interface RawValue {
  readonly value: unknown;
  readonly origin: Origin;
}

function show(value: unknown): string {
  const text = typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

type Parsed = { ok: true; value: string | number | boolean } | { ok: false; reason: string };

function parsePort(raw: RawValue): Parsed {
  let port: number | undefined;
  if (typeof raw.value === "number") port = raw.value;
  // Environment variables and flags are text; a config file must hold a JSON number.
  else if (typeof raw.value === "string" && raw.origin.kind !== "file" && /^[0-9]+$/.test(raw.value)) {
    port = Number(raw.value);
  }
  if (port === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
    return { ok: false, reason: `${show(raw.value)} is not a port number (an integer from 0 to 65535; 0 picks a free port)` };
  }
  return { ok: true, value: port };
}

function parseSasTtl(raw: RawValue): Parsed {
  let seconds: number | undefined;
  if (typeof raw.value === "number") seconds = raw.value;
  else if (typeof raw.value === "string" && raw.origin.kind !== "file" && /^[0-9]+$/.test(raw.value)) seconds = Number(raw.value);
  if (seconds === undefined || !Number.isInteger(seconds) || seconds < 60 || seconds > 86400) {
    return { ok: false, reason: `${show(raw.value)} is not a SAS lifetime (an integer number of seconds from 60 to 86400)` };
  }
  return { ok: true, value: seconds };
}

function parseBoolean(raw: RawValue): Parsed {
  if (typeof raw.value === "boolean") return { ok: true, value: raw.value };
  // Environment variables and flags are text; a config file must hold a JSON boolean.
  if (typeof raw.value === "string" && raw.origin.kind !== "file" && /^(true|false)$/i.test(raw.value)) return { ok: true, value: raw.value.toLowerCase() === "true" };
  return { ok: false, reason: `${show(raw.value)} is not true or false` };
}

function parseTier(raw: RawValue): Parsed {
  // Tiers are written upper-case (S1); "s1" is accepted, as the Azure CLI's --sku is. "none": no limits (decision 0011).
  if (typeof raw.value === "string" && isTierName(raw.value.toUpperCase())) return { ok: true, value: raw.value.toUpperCase() };
  if (typeof raw.value === "string" && raw.value.toLowerCase() === "none") return { ok: true, value: "none" };
  return { ok: false, reason: `${show(raw.value)} is not an IoT Hub tier (one of ${TIER_NAMES.join(", ")}, or none)` };
}

function parseUnits(raw: RawValue): Parsed {
  let units: number | undefined;
  if (typeof raw.value === "number") units = raw.value;
  else if (typeof raw.value === "string" && raw.origin.kind !== "file" && /^[0-9]+$/.test(raw.value)) units = Number(raw.value);
  if (units === undefined || !Number.isInteger(units) || units < 1) return { ok: false, reason: `${show(raw.value)} is not a number of units (a whole number, at least 1)` };
  return { ok: true, value: units };
}

function parseText(raw: RawValue, kind: Exclude<Kind, "port" | "sasTtl" | "boolean" | "tier" | "units" | "limits">): Parsed {
  const value = raw.value;
  if (typeof value !== "string") return { ok: false, reason: `${show(value)} is not a string` };
  if (value.length === 0) return { ok: false, reason: "must not be empty" };
  switch (kind) {
    case "path":
      return { ok: true, value };
    case "hostName":
      return isValidHostName(value)
        ? { ok: true, value }
        : { ok: false, reason: `${show(value)} is not a valid host name (a DNS name or an IPv4 address)` };
    case "hubName":
      return isValidHubName(value)
        ? { ok: true, value }
        : {
            ok: false,
            reason:
              `${show(value)} is not a valid IoT Hub name ` +
              "(3 to 50 letters, digits and hyphens, not starting or ending with a hyphen)",
          };
    case "bind":
      return isValidBindAddress(value)
        ? { ok: true, value }
        : { ok: false, reason: `${show(value)} is not an IP address to bind to (e.g. 127.0.0.1, 0.0.0.0 or ::)` };
    case "logLevel":
      return (LOG_LEVELS as readonly string[]).includes(value)
        ? { ok: true, value }
        : { ok: false, reason: `${show(value)} is not a log level (one of ${LOG_LEVELS.join(", ")})` };
    case "storageConnectionString": {
      // The value holds the account key: the reason never quotes it.
      const parsed = parseStorageConnectionString(value);
      return parsed.ok ? { ok: true, value } : { ok: false, reason: `is not a usable Azure Storage connection string: ${parsed.reason}` };
    }
    case "container":
      return isValidContainerName(value)
        ? { ok: true, value }
        : { ok: false, reason: `${show(value)} is not a blob container name (3 to 63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit)` };
  }
}

interface FileValues {
  readonly path: string;
  readonly values: Record<string, unknown>;
}

function readConfigFile(path: string, origin: string, problems: string[]): FileValues | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    problems.push(`config file ${path} (from ${origin}): cannot be read (${code ?? (error as Error).message})`);
    return undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    problems.push(`config file ${path}: is not valid JSON (${(error as Error).message})`);
    return undefined;
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    problems.push(`config file ${path}: must hold a JSON object, found ${Array.isArray(json) ? "an array" : show(json)}`);
    return undefined;
  }
  const known = new Set<string>(SETTINGS.map((s) => s.key));
  const values: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    // "$schema" lets editors validate the file; it is not a setting.
    if (key === "$schema") continue;
    if (!known.has(key)) {
      problems.push(`config file ${path}: unknown key "${key}" (known keys: ${[...known].join(", ")})`);
      continue;
    }
    values[key] = value;
  }
  return { path, values };
}

/**
 * Loads the configuration: defaults ← JSON file (`--config` or MALACHITE_CONFIG) ← environment ← flags.
 * Every problem is collected and returned at once, each naming where its value came from, so a user fixes a
 * broken setup in one go. Only the value that wins is checked: overriding a bad file value with a flag fixes it.
 */
export function loadConfig(input: LoadConfigInput): LoadConfigResult {
  const { flags, env } = input;
  const problems: string[] = [];

  const known = new Set<string>([CONFIG_FLAG, ...SETTINGS.map((s) => s.flag ?? s.key)]);
  for (const [key, value] of Object.entries(flags)) {
    if (value !== undefined && !known.has(key)) problems.push(`flag ${flagName(key)}: unknown option`);
  }

  // Which config file, if any: the flag wins over the environment, like every other setting.
  let file: FileValues | undefined;
  const flagFile = flags[CONFIG_FLAG];
  const envFile = env[CONFIG_FILE_ENV];
  if (flagFile !== undefined && (typeof flagFile !== "string" || flagFile.length === 0)) {
    problems.push(`flag --config: ${show(flagFile)} is not a file path`);
  } else if (typeof flagFile === "string") {
    file = readConfigFile(flagFile, "flag --config", problems);
  } else if (envFile !== undefined && envFile.length > 0) {
    file = readConfigFile(envFile, `env ${CONFIG_FILE_ENV}`, problems);
  }

  const chosen = new Map<keyof Config, RawValue>();
  for (const setting of SETTINGS) {
    if (setting.kind === "limits") continue;
    const flagValue = flags[setting.key];
    const envValue = env[setting.env];
    if (flagValue !== undefined) {
      chosen.set(setting.key, { value: flagValue, origin: { kind: "flag", name: flagName(setting.key) } });
    } else if (envValue !== undefined && envValue.length > 0) {
      // An empty variable counts as unset: `MALACHITE_TLS_CERT= malachite start` should not be an error.
      chosen.set(setting.key, { value: envValue, origin: { kind: "env", name: setting.env } });
    } else if (file !== undefined && setting.key in file.values) {
      chosen.set(setting.key, {
        value: file.values[setting.key],
        origin: { kind: "file", path: file.path, key: setting.key },
      });
    }
  }

  const config: Record<string, unknown> = { ...DEFAULT_CONFIG };
  const valid = new Set<keyof Config>();
  for (const setting of SETTINGS) {
    const raw = chosen.get(setting.key);
    if (raw === undefined) continue;
    const parsed =
      setting.kind === "port" ? parsePort(raw) : setting.kind === "sasTtl" ? parseSasTtl(raw) : setting.kind === "boolean" ? parseBoolean(raw)
        : setting.kind === "tier" ? parseTier(raw) : setting.kind === "units" ? parseUnits(raw) : setting.kind === "limits" ? { ok: false as const, reason: "merged by loadLimits" } : parseText(raw, setting.kind);
    if (!parsed.ok) {
      problems.push(`${describe(raw.origin)}: ${parsed.reason}`);
      continue;
    }
    let value = parsed.value;
    // Paths written in a config file are relative to that file, so the file works from any directory.
    if (setting.kind === "path" && raw.origin.kind === "file") value = resolve(dirname(raw.origin.path), value as string);
    if (setting.kind === "path" && (setting.key === "tlsCert" || setting.key === "tlsKey")) {
      const reason = unreadable(value as string);
      if (reason !== undefined) {
        problems.push(`${describe(raw.origin)}: ${show(value)} cannot be read (${reason})`);
        continue;
      }
    }
    config[setting.key] = value;
    valid.add(setting.key);
  }

  const cert = chosen.get("tlsCert");
  const key = chosen.get("tlsKey");
  if (cert !== undefined && key === undefined) {
    problems.push(`${describe(cert.origin)}: a TLS certificate needs its private key too (--tls-key / MALACHITE_TLS_KEY)`);
  }
  if (key !== undefined && cert === undefined) {
    problems.push(`${describe(key.origin)}: a TLS private key needs its certificate too (--tls-cert / MALACHITE_TLS_CERT)`);
  }

  config["limits"] = loadLimits(flags, env, file, problems);
  const units = chosen.get("units");
  if (units !== undefined && valid.has("units")) {
    const tier = config["tier"] as string;
    if (tier === "none") {
      problems.push(`${describe(units.origin)}: units apply to a tier, and the tier is none; choose one (--tier / MALACHITE_TIER, one of ${TIER_NAMES.join(", ")})`);
    } else if (isTierName(tier) && (config["units"] as number) > maxUnits(tier)) {
      problems.push(`${describe(units.origin)}: a ${tier} hub has at most ${maxUnits(tier)} unit${maxUnits(tier) === 1 ? "" : "s"}, not ${String(config["units"])}`);
    }
  }

  if (!chosen.has("hubName") && valid.has("hostName")) {
    config["hubName"] = hubNameFromHostName(config["hostName"] as string);
  }

  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, config: deepFreeze(config as unknown as Config) };
}

/**
 * `--limit name=value` (repeatable), MALACHITE_LIMITS ("a=1,b=2") and the config file's `limits` object, merged per
 * name: a flag beats the environment, which beats the file. Every entry is checked; each problem names its source.
 */
function loadLimits(flags: Record<string, unknown>, env: Record<string, string | undefined>, file: FileValues | undefined, problems: string[]): Readonly<Record<string, number>> {
  const merged: Record<string, number> = {};
  const take = (name: string, value: unknown, origin: Origin): void => {
    if (!isLimitName(name)) {
      problems.push(`${describe(origin)}: "${name}" is not a limit name (one of ${LIMIT_NAMES.join(", ")})`);
      return;
    }
    let number: number | undefined;
    if (typeof value === "number") number = value;
    else if (typeof value === "string") {
      const parsed = parseLimitAssignment(`${name}=${value}`);
      if (parsed.ok) number = parsed.value;
    }
    const reason = number === undefined ? `is not a number or "unlimited"` : checkLimitValue(name, number);
    if (reason !== undefined) {
      problems.push(`${describe(origin)}: ${name}=${show(value)} ${reason}`);
      return;
    }
    merged[name] = number!;
  };
  const assignments = (text: string, origin: Origin): void => {
    for (const part of text.split(",")) {
      if (part.trim() === "") continue;
      const parsed = parseLimitAssignment(part);
      if (!parsed.ok) problems.push(`${describe(origin)}: ${parsed.reason}`);
      else take(parsed.name, parsed.value, origin);
    }
  };
  const fromFile = file?.values["limits"];
  if (file !== undefined && fromFile !== undefined) {
    if (fromFile === null || typeof fromFile !== "object" || Array.isArray(fromFile)) {
      problems.push(`config file ${file.path} (key "limits"): must be an object of limit names and numbers, e.g. {"dailyMessages": 30}`);
    } else {
      for (const [name, value] of Object.entries(fromFile)) take(name, value, { kind: "file", path: file.path, key: `limits.${name}` });
    }
  }
  const fromEnv = env["MALACHITE_LIMITS"];
  if (fromEnv !== undefined && fromEnv.length > 0) assignments(fromEnv, { kind: "env", name: "MALACHITE_LIMITS" });
  const fromFlags = flags["limit"];
  if (fromFlags !== undefined) {
    const origin: Origin = { kind: "flag", name: "--limit" };
    const list = Array.isArray(fromFlags) ? fromFlags : [fromFlags];
    for (const item of list) {
      if (typeof item === "string") assignments(item, origin);
      else problems.push(`${describe(origin)}: ${show(item)} is not name=value`);
    }
  }
  return merged;
}

function unreadable(path: string): string | undefined {
  try {
    accessSync(path, fsConstants.R_OK);
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  }
}
