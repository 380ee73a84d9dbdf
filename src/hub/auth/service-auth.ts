import { HubError } from "../errors/index.js";
import type { CallContext, PolicyCaller } from "../call-context.js";
import type { Clock } from "../ports/clock.js";
import type { Right, SharedAccessPolicy } from "./rights.js";
import { parseSasToken, sasExpiry, sasResourceCovers, sasSignatureMatches } from "./sas-token.js";

export interface ServiceAuthDeps {
  readonly hostName: string;
  /** Tokens are judged against wall time, not the hub clock, so SDK-minted tokens stay valid when hub time is advanced. */
  readonly wallClock: Clock;
  readonly policies: () => readonly SharedAccessPolicy[];
}

function unauthorized(message: string, trackingId: string): HubError {
  return new HubError("IotHubUnauthorizedAccess", { message, trackingId });
}

/** Authenticates back-end callers that present a shared access policy token (HTTPS `Authorization`, AMQP CBS). */
export class ServiceAuth {
  readonly #deps: ServiceAuthDeps;
  /**
   * Tokens that passed every check, by their exact Authorization text: back ends send the same token with every
   * request, so its signature is checked once. A hit still needs its policy to be current with the same keys, and
   * its expiry is checked on every call.
   */
  readonly #verified = new Map<string, Verified>();

  constructor(deps: ServiceAuthDeps) {
    this.#deps = deps;
  }

  /** Returns the policy caller for a valid token; throws 401 IotHubUnauthorizedAccess with IoT Hub's wording otherwise. */
  authenticate(authorization: string | undefined, trackingId: string): PolicyCaller {
    const known = authorization === undefined ? undefined : this.#verified.get(authorization);
    if (known !== undefined) {
      const policy = known.policy;
      if (known.expiry > this.#deps.wallClock.now() && policy.primaryKey === known.primaryKey && policy.secondaryKey === known.secondaryKey && this.#deps.policies().includes(policy)) {
        return { kind: "policy", policyName: policy.keyName, rights: policy.rights };
      }
      this.#verified.delete(authorization!); // expired, or the policy changed: judged afresh below
    }
    return this.#authenticate(authorization, trackingId);
  }

  #authenticate(authorization: string | undefined, trackingId: string): PolicyCaller {
    if (authorization === undefined || authorization.trim() === "") {
      throw unauthorized("Authorization header missing", trackingId);
    }
    const token = parseSasToken(authorization.trim());
    if (token === undefined) {
      throw unauthorized("Malformed SharedAccessSignature: expected 'SharedAccessSignature sr=…&sig=…&se=…&skn=…'", trackingId);
    }
    if (token.skn === undefined) {
      throw unauthorized("The token has no key name (skn): service operations need a shared access policy token", trackingId);
    }
    const keyName = safeDecode(token.skn);
    const policy = this.#deps.policies().find((p) => p.keyName === keyName);
    const expiry = sasExpiry(token);
    if (expiry === undefined) {
      throw unauthorized("Malformed SharedAccessSignature: 'se' is not a number of seconds", trackingId);
    }
    // Check the signature before anything that depends on the policy, so a probe learns nothing from timing or wording.
    if (policy === undefined || !(sasSignatureMatches(token, policy.primaryKey) || sasSignatureMatches(token, policy.secondaryKey))) {
      throw unauthorized("Unauthorized: the SharedAccessSignature is not valid for any key of this IoT hub", trackingId);
    }
    if (expiry <= this.#deps.wallClock.now()) {
      throw unauthorized(`SharedAccessSignature expired at ${new Date(expiry).toISOString()}`, trackingId);
    }
    if (!sasResourceCovers(token, this.#deps.hostName)) {
      throw unauthorized(`The SharedAccessSignature's resource '${safeDecode(token.sr) ?? token.sr}' does not cover this IoT hub '${this.#deps.hostName}'`, trackingId);
    }
    if (this.#verified.size >= MAX_VERIFIED) this.#verified.clear();
    this.#verified.set(authorization, { policy, primaryKey: policy.primaryKey, secondaryKey: policy.secondaryKey, expiry });
    return { kind: "policy", policyName: policy.keyName, rights: policy.rights };
  }
}

/** A token that passed, with the keys of the policy it passed against at the time. */
interface Verified {
  readonly policy: SharedAccessPolicy;
  readonly primaryKey: string;
  readonly secondaryKey: string;
  /** ms since the epoch. */
  readonly expiry: number;
}

/** Verified tokens kept; past this the cache starts again from empty. */
const MAX_VERIFIED = 1000;

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/**
 * Throws 401 unless the caller is a policy holding `right`. `operation` names what was attempted, in the message
 * IoT Hub gives: "Authorization rule 'registryRead' does not allow access for 'RegistryWrite'".
 */
export function requireRight(ctx: CallContext, right: Right): void {
  const caller = ctx.caller;
  if (caller.kind === "policy" && caller.rights.includes(right)) return;
  const who = caller.kind === "policy" ? `Authorization rule '${caller.policyName}'` : `Device '${caller.deviceId}'`;
  throw unauthorized(`${who} does not allow access for '${right}'`, ctx.trackingId);
}
