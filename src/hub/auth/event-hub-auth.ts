import { HubError } from "../errors/index.js";
import type { PolicyCaller } from "../call-context.js";
import type { Clock } from "../ports/clock.js";
import type { SharedAccessPolicy } from "./rights.js";
import { parseSasToken, sasExpiry, sasSignatureMatchesKey, type SasToken } from "./sas-token.js";

export interface EventHubAuthDeps {
  /** Tokens are judged against wall time, as ServiceAuth does: the SDK mints them from its own clock. */
  readonly wallClock: Clock;
  readonly policies: () => readonly SharedAccessPolicy[];
  /** The Event Hub-compatible name (the hub name): the first path segment every audience must name. */
  readonly entityName: string;
}

export interface EventHubAuthResult {
  readonly caller: PolicyCaller;
  /** When the token expires (ms since epoch, wall time): the gateway ends the link's authorization then. */
  readonly expiresAt: number;
}

function unauthorized(message: string, trackingId: string): HubError {
  return new HubError("IotHubUnauthorizedAccess", { message, trackingId });
}

/**
 * Authenticates CBS put-token requests on the built-in Event Hub-compatible endpoint (service-protocol.md §5).
 *
 * Clients there are Event Hubs clients (@azure/event-hubs, Azure.Messaging.EventHubs), which sign differently from
 * the IoT Hub SDKs: the HMAC key is the UTF-8 bytes of the SharedAccessKey string, not its base64 decoding, and the
 * audience is `sb://{host}[:{port}]/{eventHubName}[/…]`. IoT Hub accepts the tokens of its shared access policies
 * there, provided the policy has ServiceConnect (Learn: "Read device-to-cloud messages from the built-in endpoint").
 */
export class EventHubAuth {
  readonly #deps: EventHubAuthDeps;

  constructor(deps: EventHubAuthDeps) {
    this.#deps = deps;
  }

  /**
   * Checks `token` for the put-token `audience` (its `name`, as the client sent it). Returns the policy caller and the
   * token's expiry; throws 401 IotHubUnauthorizedAccess otherwise. No message ever echoes a key or a signature.
   */
  authenticate(token: string, audience: string, trackingId: string): EventHubAuthResult {
    const parsed = typeof token === "string" ? parseSasToken(token.trim()) : undefined;
    if (parsed === undefined) {
      throw unauthorized("Malformed SharedAccessSignature: expected 'SharedAccessSignature sr=…&sig=…&se=…&skn=…'", trackingId);
    }
    if (parsed.skn === undefined) {
      throw unauthorized("The token has no key name (skn): the Event Hub-compatible endpoint needs a shared access policy token", trackingId);
    }
    const expiry = sasExpiry(parsed);
    if (expiry === undefined) {
      throw unauthorized("Malformed SharedAccessSignature: 'se' is not a number of seconds", trackingId);
    }
    const keyName = safeDecode(parsed.skn);
    const policy = this.#deps.policies().find((p) => p.keyName === keyName);
    // The signature is checked before anything that depends on the policy, so a probe learns nothing from the wording.
    if (policy === undefined || !(signedWith(parsed, policy.primaryKey) || signedWith(parsed, policy.secondaryKey))) {
      throw unauthorized("Unauthorized: the SharedAccessSignature is not valid for any key of this IoT hub's Event Hub-compatible endpoint", trackingId);
    }
    if (expiry <= this.#deps.wallClock.now()) {
      throw unauthorized(`SharedAccessSignature expired at ${new Date(expiry).toISOString()}`, trackingId);
    }
    const resource = safeDecode(parsed.sr);
    const scope = resource === undefined ? undefined : pathSegments(resource);
    if (scope === undefined || scope.length === 0 || scope[0] !== this.#deps.entityName.toLowerCase()) {
      throw unauthorized(`The SharedAccessSignature's resource '${resource ?? parsed.sr}' is not for the Event Hub '${this.#deps.entityName}'`, trackingId);
    }
    const target = typeof audience === "string" ? pathSegments(audience) : undefined;
    if (target === undefined || scope.length > target.length || !scope.every((segment, i) => segment === target[i])) {
      throw unauthorized(`The SharedAccessSignature's resource '${resource}' does not cover the audience '${String(audience)}'`, trackingId);
    }
    if (!policy.rights.includes("ServiceConnect")) {
      throw unauthorized(`Authorization rule '${policy.keyName}' does not allow access for 'ServiceConnect'`, trackingId);
    }
    return { caller: { kind: "policy", policyName: policy.keyName, rights: policy.rights }, expiresAt: expiry };
  }
}

/** The Event Hubs SDKs' HMAC key: the key string's UTF-8 bytes. */
function signedWith(token: SasToken, key: string): boolean {
  return sasSignatureMatchesKey(token, Buffer.from(key, "utf8"));
}

/**
 * The lower-cased path segments of `sb://host[:port]/a/b` (or `host/a/b`), without the scheme and authority: the host
 * is whatever address the client dialled (an IP, a tunnel), so it is not compared. A trailing slash is ignored.
 */
function pathSegments(uri: string): string[] {
  const withoutScheme = uri.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\//, "");
  const slash = withoutScheme.indexOf("/");
  const path = slash < 0 ? "" : withoutScheme.slice(slash + 1);
  const segments = path.toLowerCase().replace(/\/+$/, "").split("/");
  return segments.length === 1 && segments[0] === "" ? [] : segments;
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}
