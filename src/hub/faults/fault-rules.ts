import { HUB_ERRORS, HubError, isHubErrorName, type HubErrorName } from "../errors/index.js";
import type { CallContext } from "../call-context.js";
import type { Clock } from "../ports/clock.js";
import type { IdentityKey } from "../ports/store.js";
import type { DeviceLinkRole } from "../ports/device-link.js";
import type { HubTimers } from "../timers/hub-timers.js";
import { requireAllRights } from "../admin/clock-admin.js";
import { Mulberry32 } from "./prng.js";
import { PersistedSetting, type SettingPersistence } from "../../shared/persisted-setting.js";

/** The store setting holding the admin fault rules, with their use counts and generator states (decision 0013). */
export const FAULT_RULES_SETTING = "faultRules";

/** Where a fault can be injected: the points where operations enter the core (decision 0012). */
export const FAULT_OPERATIONS = [
  "connect",
  "d2c",
  "c2d.send",
  "c2d.receive",
  "c2d.settle",
  "twin.get",
  "twin.reported",
  "twin.desired",
  "method.invoke",
  "registry",
  "query",
  "fileUpload",
] as const;
export type FaultOperation = (typeof FAULT_OPERATIONS)[number];

/** Faults of the connection rather than of one operation: each gateway acts on them in its own way. */
export const TRANSPORT_FAULTS = ["drop", "refuseConnect", "delay"] as const;
export type TransportFault = (typeof TRANSPORT_FAULTS)[number];

export const FAULT_PROTOCOLS = ["mqtt", "amqp", "https"] as const;
export type FaultProtocol = (typeof FAULT_PROTOCOLS)[number];

/** A rule as `GET /admin/faults` shows it. */
export interface FaultRule {
  readonly id: string;
  /** A catalog error name, or a transport fault. */
  readonly error: HubErrorName | TransportFault;
  /** The catalog code of `error` (absent for transport faults). */
  readonly code?: number;
  /** "*": every operation (the rules the SDK's fault messages create). */
  readonly operation: FaultOperation | "*";
  readonly deviceId?: string;
  readonly moduleId?: string;
  readonly protocol?: FaultProtocol;
  readonly count?: number;
  readonly probability?: number;
  readonly seed?: number;
  readonly afterSeconds?: number;
  readonly durationSeconds?: number;
  /** For "delay": how long the acknowledgement waits, in hub seconds. */
  readonly delaySeconds?: number;
  /** "admin": `POST /admin/faults`; "message": an `AzIoTHub_FaultOperationType` telemetry message. */
  readonly source: "admin" | "message";
  readonly createdTime: string;
  /** How many times the rule has fired. */
  readonly applied: number;
  /** pending (before afterSeconds), active, spent (count used up) or expired (duration over). */
  readonly state: "pending" | "active" | "spent" | "expired";
}

/** What the engine decided for one call. */
export type Fault =
  | { readonly kind: "error"; readonly error: HubErrorName; readonly ruleId: string }
  | { readonly kind: "drop"; readonly ruleId: string }
  | { readonly kind: "refuseConnect"; readonly ruleId: string }
  | { readonly kind: "delay"; readonly seconds: number; readonly ruleId: string };

/** Who makes a call, as far as matching needs it: the call context, or just a protocol for connects. */
export interface FaultCall {
  readonly caller?: CallContext["caller"];
  readonly protocol: CallContext["protocol"];
  readonly trackingId?: string;
}

export interface FaultRulesDeps {
  readonly clock: Clock;
  readonly timers: HubTimers;
  /** Rule ids ("f1", "f2", …) are counted here unless given. */
  readonly nextId?: () => string;
  /** Closes the live connection of an identity ("drop"); the hub wires it to Presence. */
  readonly disconnect: (key: IdentityKey, reason: HubErrorName) => void;
  /**
   * Detaches one link of an identity's live connection (protocols with links); false when there is no such link.
   * The hub wires it to the connection's DeviceLink.
   */
  readonly detach?: (key: IdentityKey, role: DeviceLinkRole, reason: HubErrorName) => boolean;
  /** Seeds for rules with a probability and no seed; `Math.random` by default. The seed chosen is shown on the rule. */
  readonly randomSeed?: () => number;
  /** Where admin rules are kept across restarts (decision 0013); without it every rule lives in memory only. */
  readonly persistence?: SettingPersistence;
}

/** The device link each device operation travels on, for faults that detach a link (409002). */
const LINK_OF: Partial<Record<FaultOperation, DeviceLinkRole>> = {
  d2c: "d2c",
  "c2d.receive": "c2d",
  "c2d.settle": "c2d",
  "twin.get": "twinRequest",
  "twin.reported": "twinRequest",
  "twin.desired": "twinRequest",
};

/** Errors that end the caller's connection instead of refusing one call (troubleshooting guide: 400027, 404104). */
const CONNECTION_ENDING: ReadonlySet<HubErrorName> = new Set<HubErrorName>(["ConnectionForcefullyClosedOnNewConnection", "DeviceConnectionClosedRemotely"]);

/** The info a dropped call's HubError carries, so a gateway with no live connection (HTTPS) drops the socket. */
export const DROP_INFO = { fault: "drop" } as const;

/** Did a fault rule ask for this call's connection to be dropped (no answer at all)? */
export function isDropFault(error: unknown): boolean {
  return error instanceof HubError && error.info?.["fault"] === "drop";
}

interface LiveRule {
  readonly view: Omit<FaultRule, "applied" | "state">;
  readonly startsAt: number;
  readonly endsAt: number;
  readonly random: Mulberry32 | undefined;
  /** Message rules apply to the device's own calls only; admin rules also to service calls aimed at the device. */
  readonly callerOnly: boolean;
  /** Admin rules are kept in the store; message rules are not (see `FaultRules`). */
  readonly persisted: boolean;
  /** Creation order, in which rules are tried; kept to put back a rule whose removal could not be stored. */
  readonly order: number;
  applied: number;
}

/** An admin rule as the store keeps it: its view, plus what `check` needs to carry on where it stopped. */
interface StoredRule extends Omit<FaultRule, "applied" | "state"> {
  /** Hub-clock milliseconds (the hub clock's offset is stored too, so these stay meaningful across a restart). */
  readonly startsAt: number;
  /** null: no `durationSeconds`, the rule never expires. */
  readonly endsAt: number | null;
  readonly applied: number;
  /** The seeded generator's state (probability rules), so the sequence continues rather than starting over. */
  readonly randomState?: number;
}

interface StoredRules {
  /** The id counter ("f{n}"), so ids are not reused after a restart, even those of removed rules. */
  readonly nextId: number;
  readonly rules: readonly StoredRule[];
}

// Long enough for any test scenario, short enough that a typo (ms for s) is caught.
const MAX_SECONDS = 7 * 24 * 3600;
const FIELDS = new Set(["error", "operation", "deviceId", "moduleId", "protocol", "count", "probability", "seed", "afterSeconds", "durationSeconds", "delaySeconds"]);

/**
 * Fault rules (issue #6): which calls fail, with what, how often and when. `check` runs where each operation enters
 * the core (next to the tier limits), so every protocol renders an injected error exactly as it renders a real one.
 * Probabilities draw from a per-rule seeded generator, so the same seed and the same calls fail the same way again.
 *
 * Admin rules survive a restart (decision 0013): `add` and `remove` answer once the store holds the change, and
 * `FaultRules.load` brings the rules back with their ids, windows, use counts and generator states. Uses change on
 * every firing call, so they are written at most about once a second (and at `close`): a crash loses at most the
 * last second of counts and draws. Rules made from SDK fault messages (source "message") stay in memory only: they
 * last seconds, belong to the connection that sent the message, and a restart has already closed it.
 */
export class FaultRules {
  readonly #deps: FaultRulesDeps;
  #rules = new Map<string, LiveRule>();
  #counter = 0;
  #order = 0;
  readonly #setting: PersistedSetting | undefined;

  constructor(deps: FaultRulesDeps) {
    this.#deps = deps;
    this.#setting = deps.persistence === undefined ? undefined : new PersistedSetting({ ...deps.persistence, name: FAULT_RULES_SETTING, snapshot: () => this.#stored() });
  }

  /** Rules with the admin rules the store holds (none without `persistence`), the id counter after theirs. */
  static async load(deps: FaultRulesDeps): Promise<FaultRules> {
    const rules = new FaultRules(deps);
    if (deps.persistence !== undefined) rules.#restore(await deps.persistence.store.getSetting(FAULT_RULES_SETTING), deps.persistence.reportError);
    return rules;
  }

  /** `POST /admin/faults`: validates the body and adds the rule; answers once the rule is stored. */
  async add(ctx: CallContext, body: unknown): Promise<FaultRule> {
    requireAllRights(ctx);
    const view = this.#add(parseRule(body, ctx.trackingId, this.#deps.randomSeed ?? defaultSeed), "admin", false);
    const rule = this.#rules.get(view.id)!;
    try {
      await this.#setting?.save();
    } catch (error) {
      // Not stored, so not added: an acknowledged rule is one that survives a restart.
      this.#rules.delete(view.id);
      throw error;
    }
    return this.#view(rule);
  }

  /** `GET /admin/faults`: every rule, oldest first. */
  list(ctx: CallContext): FaultRule[] {
    requireAllRights(ctx);
    this.#prune();
    return [...this.#rules.values()].map((rule) => this.#view(rule));
  }

  /** `DELETE /admin/faults/{id}`; answers once the store no longer holds the rule. */
  async remove(ctx: CallContext, id: string): Promise<void> {
    requireAllRights(ctx);
    const rule = this.#rules.get(id);
    if (rule === undefined) throw new HubError("NotFound", { trackingId: ctx.trackingId, message: `There is no fault rule '${id}'` });
    this.#rules.delete(id);
    if (!rule.persisted) return;
    try {
      await this.#setting?.save();
    } catch (error) {
      // Still stored, so still in force: put it back in its place, as rules are tried in creation order.
      this.#rules = new Map([...this.#rules, [id, rule] as const].sort((a, b) => a[1].order - b[1].order));
      throw error;
    }
  }

  /** Writes the use counts and generator states changed since the last write (the once-a-second flush runs it). */
  flush(): Promise<void> {
    return this.#setting?.flush() ?? Promise.resolve();
  }

  /** The hub stops: a last write of what changed, awaited before the store closes. */
  close(): Promise<void> {
    return this.#setting?.close() ?? Promise.resolve();
  }

  /** A rule the hub makes itself (an SDK fault message); already validated by the caller. */
  addInternal(rule: ParsedRule): FaultRule {
    return this.#add(rule, "message", true);
  }

  /**
   * The fault to inject into this call, if any rule fires; a firing rule counts one use. `target` is the device a
   * service call is about (a C2D send, a method, a twin), so device-scoped rules reach those calls too.
   */
  check(call: FaultCall, operation: FaultOperation, target?: { readonly deviceId: string; readonly moduleId?: string | undefined }): Fault | undefined {
    if (this.#rules.size === 0) return undefined;
    const now = this.#deps.clock.now();
    for (const rule of this.#rules.values()) {
      const v = rule.view;
      if (v.operation !== "*" && v.operation !== operation) continue;
      if (v.protocol !== undefined && v.protocol !== call.protocol) continue;
      if (now < rule.startsAt || now >= rule.endsAt) continue;
      if (v.count !== undefined && rule.applied >= v.count) continue;
      if (v.deviceId !== undefined && !aimsAt(call, rule.callerOnly ? undefined : target, v.deviceId, v.moduleId)) continue;
      // Drawn only for calls the rule otherwise covers, so the sequence depends on those calls alone.
      if (rule.random !== undefined) {
        const draw = rule.random.next();
        // The generator moved on: its state is stored with the next flush (a flag and a timer, no I/O here).
        if (rule.persisted) this.#setting?.markDirty();
        if (draw >= v.probability!) continue;
      }
      rule.applied++;
      if (rule.persisted) this.#setting?.markDirty();
      return toFault(v);
    }
    return undefined;
  }

  /**
   * Applies what `check` decides, for the services' one-line hooks: an error is thrown; "delay" returns a promise
   * that resolves after the delay on hub timers; "drop" closes the caller's live connection and throws a HubError
   * marked as a drop (HTTPS then destroys the socket). Undefined when no rule fires, so hot paths do not await.
   */
  enter(call: FaultCall, operation: FaultOperation, target?: { readonly deviceId: string; readonly moduleId?: string | undefined }): Promise<void> | undefined {
    const fault = this.check(call, operation, target);
    if (fault === undefined) return undefined;
    const trackingId = call.trackingId;
    const text = (name: HubErrorName): string => `${HUB_ERRORS[name].message} (injected by fault rule ${fault.ruleId})`;
    switch (fault.kind) {
      case "error": {
        // These two end a connection on IoT Hub rather than refusing one operation: the caller's connection closes
        // with that reason, as the real condition does (a displaced or remotely closed connection).
        const caller = call.caller;
        if (CONNECTION_ENDING.has(fault.error) && caller?.kind === "device") {
          this.#deps.disconnect({ deviceId: caller.deviceId, moduleId: caller.moduleId }, fault.error);
          throw new HubError(fault.error, { trackingId, message: text(fault.error), info: DROP_INFO });
        }
        // 409002 is a link conflict on IoT Hub: the link the operation uses is detached, where the protocol has links.
        const role = LINK_OF[operation];
        if (fault.error === "LinkCreationConflict" && caller?.kind === "device" && role !== undefined) {
          this.#deps.detach?.({ deviceId: caller.deviceId, moduleId: caller.moduleId }, role, fault.error);
        }
        throw new HubError(fault.error, { trackingId, message: text(fault.error) });
      }
      case "refuseConnect":
        throw new HubError("ServiceUnavailable", { trackingId, message: text("ServiceUnavailable") });
      case "delay":
        return new Promise((resolve) => this.#deps.timers.after(fault.seconds * 1000, resolve));
      case "drop": {
        const caller = call.caller;
        if (caller?.kind === "device") this.#deps.disconnect({ deviceId: caller.deviceId, moduleId: caller.moduleId }, "DeviceConnectionClosedRemotely");
        throw new HubError("DeviceConnectionClosedRemotely", { trackingId, message: text("DeviceConnectionClosedRemotely"), info: DROP_INFO });
      }
    }
  }

  #add(parsed: ParsedRule, source: FaultRule["source"], callerOnly: boolean): FaultRule {
    const now = this.#deps.clock.now();
    const id = this.#deps.nextId?.() ?? `f${++this.#counter}`;
    const startsAt = now + (parsed.afterSeconds ?? 0) * 1000;
    const endsAt = parsed.durationSeconds === undefined ? Infinity : startsAt + parsed.durationSeconds * 1000;
    const code = isHubErrorName(parsed.error) ? HUB_ERRORS[parsed.error].code : undefined;
    const view = { id, ...parsed, ...(code === undefined ? {} : { code }), source, createdTime: new Date(now).toISOString() };
    const rule: LiveRule = {
      view,
      startsAt,
      endsAt,
      random: parsed.probability === undefined ? undefined : new Mulberry32(parsed.seed!),
      callerOnly,
      persisted: source === "admin",
      order: ++this.#order,
      applied: 0,
    };
    this.#prune();
    this.#rules.set(id, rule);
    return this.#view(rule);
  }

  /** What the store keeps: the admin rules, in creation order, and the id counter. */
  #stored(): StoredRules {
    const rules: StoredRule[] = [];
    for (const rule of this.#rules.values()) {
      if (!rule.persisted) continue;
      rules.push({
        ...rule.view,
        startsAt: rule.startsAt,
        endsAt: Number.isFinite(rule.endsAt) ? rule.endsAt : null,
        applied: rule.applied,
        ...(rule.random === undefined ? {} : { randomState: rule.random.state }),
      });
    }
    return { nextId: this.#counter, rules };
  }

  /** Brings back the stored admin rules; one that no longer validates (a catalog change) is dropped and reported. */
  #restore(value: unknown, reportError: (error: unknown) => void): void {
    if (typeof value !== "object" || value === null) return;
    const { nextId, rules } = value as Partial<Record<keyof StoredRules, unknown>>;
    let counter = typeof nextId === "number" && Number.isSafeInteger(nextId) && nextId > 0 ? nextId : 0;
    for (const stored of Array.isArray(rules) ? rules : []) {
      const rule = restoreRule(stored, ++this.#order);
      if (rule === undefined) {
        reportError(new Error(`A stored fault rule is not valid any more and was dropped: ${JSON.stringify(stored)}`));
        continue;
      }
      this.#rules.set(rule.view.id, rule);
      // New ids continue after the highest one in use, whatever the stored counter says.
      const number = /^f(\d+)$/.exec(rule.view.id);
      if (number !== null) counter = Math.max(counter, Number(number[1]));
    }
    this.#counter = counter;
  }

  /** Rules the hub made itself go once they are over; admin rules stay until removed, so their state can be read. */
  #prune(): void {
    const now = this.#deps.clock.now();
    for (const [id, rule] of this.#rules) {
      if (rule.view.source === "message" && now >= rule.endsAt) this.#rules.delete(id);
    }
  }

  #view(rule: LiveRule): FaultRule {
    const now = this.#deps.clock.now();
    const count = rule.view.count;
    const state = count !== undefined && rule.applied >= count ? "spent" : now >= rule.endsAt ? "expired" : now < rule.startsAt ? "pending" : "active";
    return { ...rule.view, applied: rule.applied, state };
  }
}

function aimsAt(call: FaultCall, target: { deviceId: string; moduleId?: string | undefined } | undefined, deviceId: string, moduleId: string | undefined): boolean {
  const caller = call.caller;
  const who = caller?.kind === "device" ? caller : target;
  if (who === undefined || who.deviceId !== deviceId) return false;
  return moduleId === undefined || (who.moduleId ?? "") === moduleId;
}

/** An admin rule from the store, validated again as a body would be; undefined if it is not one. */
function restoreRule(value: unknown, order: number): LiveRule | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const stored = value as Partial<Record<keyof StoredRule, unknown>>;
  const { id, createdTime, startsAt, endsAt, applied, randomState } = stored;
  if (typeof id !== "string" || id === "" || typeof createdTime !== "string" || typeof startsAt !== "number" || !Number.isFinite(startsAt)) return undefined;
  if (!(endsAt === null || (typeof endsAt === "number" && Number.isFinite(endsAt))) || !Number.isSafeInteger(applied) || (applied as number) < 0) return undefined;
  let parsed: ParsedRule;
  try {
    const body = Object.fromEntries(Object.entries(stored).filter(([name]) => FIELDS.has(name)));
    parsed = parseRule(body, undefined, () => 0);
  } catch {
    return undefined;
  }
  const code = isHubErrorName(parsed.error) ? HUB_ERRORS[parsed.error].code : undefined;
  const view = { id, ...parsed, ...(code === undefined ? {} : { code }), source: "admin" as const, createdTime };
  const state = typeof randomState === "number" && Number.isInteger(randomState) && randomState >= 0 && randomState < 2 ** 32 ? randomState : parsed.seed;
  return {
    view,
    startsAt,
    endsAt: endsAt ?? Infinity,
    random: parsed.probability === undefined ? undefined : new Mulberry32(state!),
    callerOnly: false,
    persisted: true,
    order,
    applied: applied as number,
  };
}

function toFault(rule: Omit<FaultRule, "applied" | "state">): Fault {
  const ruleId = rule.id;
  if (rule.error === "drop") return { kind: "drop", ruleId };
  if (rule.error === "refuseConnect") return { kind: "refuseConnect", ruleId };
  if (rule.error === "delay") return { kind: "delay", seconds: rule.delaySeconds ?? 0, ruleId };
  return { kind: "error", error: rule.error, ruleId };
}

function defaultSeed(): number {
  return Math.floor(Math.random() * 2 ** 32);
}

/** A validated rule, before it has an id. */
export type ParsedRule = Omit<FaultRule, "id" | "code" | "source" | "createdTime" | "applied" | "state">;

/** Validates a rule body; every refusal is 400004 naming the field and the values it may take. */
export function parseRule(body: unknown, trackingId: string | undefined, randomSeed: () => number = defaultSeed): ParsedRule {
  const invalid = (message: string): HubError => new HubError("ArgumentInvalid", { trackingId, message });
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw invalid('The body must be a JSON object such as {"error": 403002, "operation": "d2c"}');
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((name) => !FIELDS.has(name));
  if (unknown.length > 0) throw invalid(`Unknown field(s) ${unknown.map((n) => `'${n}'`).join(", ")}; a fault rule has ${[...FIELDS].join(", ")}`);

  const error = parseError(fields["error"]);
  if (error === undefined) {
    throw invalid(
      `'error' must be an IoT Hub error code or name from the catalog (docs/errors.md, e.g. 403002 or IotHubQuotaExceeded) or a transport fault: ${TRANSPORT_FAULTS.join(", ")}; got ${JSON.stringify(fields["error"] ?? null)}`,
    );
  }
  const operation = fields["operation"];
  if (typeof operation !== "string" || !(operation === "*" || (FAULT_OPERATIONS as readonly string[]).includes(operation))) {
    throw invalid(`'operation' must be one of ${FAULT_OPERATIONS.join(", ")} (or * for every operation); got ${JSON.stringify(operation ?? null)}`);
  }
  if (error === "refuseConnect" && operation !== "connect") throw invalid("'refuseConnect' applies to the 'connect' operation only");
  const rule: { -readonly [K in keyof ParsedRule]: ParsedRule[K] } = { error, operation: operation as ParsedRule["operation"] };

  for (const name of ["deviceId", "moduleId"] as const) {
    const value = fields[name];
    if (value === undefined) continue;
    if (typeof value !== "string" || value === "" || value.length > 128) throw invalid(`'${name}' must be a non-empty string of at most 128 characters`);
    rule[name] = value;
  }
  if (rule.moduleId !== undefined && rule.deviceId === undefined) throw invalid("'moduleId' needs 'deviceId'");
  const protocol = fields["protocol"];
  if (protocol !== undefined) {
    if (typeof protocol !== "string" || !(FAULT_PROTOCOLS as readonly string[]).includes(protocol.toLowerCase())) {
      throw invalid(`'protocol' must be one of ${FAULT_PROTOCOLS.join(", ")}; got ${JSON.stringify(protocol)}`);
    }
    rule.protocol = protocol.toLowerCase() as FaultProtocol;
  }

  const count = fields["count"];
  if (count !== undefined) {
    if (!Number.isInteger(count) || (count as number) < 1) throw invalid(`'count' must be a whole number, 1 or more; got ${JSON.stringify(count)}`);
    rule.count = count as number;
  }
  const probability = fields["probability"];
  if (probability !== undefined) {
    if (typeof probability !== "number" || !(probability > 0 && probability <= 1)) throw invalid(`'probability' must be a number greater than 0 and at most 1; got ${JSON.stringify(probability)}`);
    rule.probability = probability;
  }
  const seed = fields["seed"];
  if (seed !== undefined) {
    if (!Number.isInteger(seed) || (seed as number) < 0 || (seed as number) >= 2 ** 32) throw invalid(`'seed' must be a whole number from 0 to ${2 ** 32 - 1}; got ${JSON.stringify(seed)}`);
    if (probability === undefined) throw invalid("'seed' only makes sense with 'probability'");
    rule.seed = seed as number;
  }
  if (rule.probability !== undefined && rule.seed === undefined) rule.seed = randomSeed() >>> 0;

  for (const name of ["afterSeconds", "durationSeconds", "delaySeconds"] as const) {
    const value = fields[name];
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > MAX_SECONDS) throw invalid(`'${name}' must be a number of seconds from 0 to ${MAX_SECONDS}; got ${JSON.stringify(value)}`);
    rule[name] = value;
  }
  if (error === "delay" && rule.delaySeconds === undefined) throw invalid("A 'delay' fault needs 'delaySeconds', how long the acknowledgement waits");
  if (error !== "delay" && rule.delaySeconds !== undefined) throw invalid("'delaySeconds' applies to 'delay' faults only");
  return rule;
}

/** A catalog code (number or digits) or name, or a transport fault; undefined if it is none of these. */
function parseError(value: unknown): HubErrorName | TransportFault | undefined {
  if (typeof value === "string" && (TRANSPORT_FAULTS as readonly string[]).includes(value)) return value as TransportFault;
  if (typeof value === "string" && isHubErrorName(value)) return value;
  const code = typeof value === "number" ? value : typeof value === "string" && /^\d{6}$/.test(value) ? Number(value) : undefined;
  if (code === undefined) return undefined;
  return (Object.keys(HUB_ERRORS) as HubErrorName[]).find((name) => HUB_ERRORS[name].code === code);
}
