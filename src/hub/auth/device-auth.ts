import { X509Certificate } from "node:crypto";
import { HubError } from "../errors/index.js";
import type { DeviceCaller } from "../call-context.js";
import type { Clock } from "../ports/clock.js";
import type { IdentityKey, IdentityRecord, Store } from "../ports/store.js";
import { identityNotFound } from "../registry/not-found.js";
import { sasAuthMethod, x509AuthMethod, type ConnectionAuthMethod } from "./device-auth-method.js";
import type { SharedAccessPolicy } from "./rights.js";
import { parseSasToken, sasExpiry, sasResourceCovers, sasSignatureMatches, type SasToken } from "./sas-token.js";
import {
  certificateThumbprints,
  subjectCommonNames,
  validityPeriod,
  validityState,
  verifyChain,
} from "./x509-identity.js";

export interface DeviceAuthDeps {
  readonly hostName: string;
  /** Tokens and certificates are judged against wall time, not the hub clock, so SDK-minted tokens stay valid when hub time is advanced. */
  readonly wallClock: Clock;
  readonly store: Store;
  /** A policy with DeviceConnect may sign tokens for any device or module (`skn` in the token). */
  readonly policies: () => readonly SharedAccessPolicy[];
  /** PEM certificates of the CAs registered with `malachite ca add` (X.509 CA-signed devices chain up to one). */
  readonly trustedCas: () => readonly string[];
}

/** Which credential the identity proved itself with (for logs and the dashboard; the wire value is `authMethod`). */
export type DeviceCredential = "identityKey" | "policyKey" | "selfSigned" | "certificateAuthority";

export interface DeviceAuthResult {
  readonly caller: DeviceCaller;
  /** IoT Hub's `iothub-connection-auth-method` value; render it with `renderConnectionAuthMethod`. */
  readonly authMethod: ConnectionAuthMethod;
  readonly credential: DeviceCredential;
  /** The shared access policy that signed the token, for `credential` "policyKey". */
  readonly policyName: string | undefined;
  /** The generationId of the authenticated identity (the module's own for a module): `iothub-connection-auth-generation-id`. */
  readonly generationId: string;
  /** ms since epoch when the SAS token expires (undefined for X.509): the gateway schedules the 401003 disconnect. */
  readonly expiresAt: number | undefined;
}

/**
 * Every refusal is 401 IotHubUnauthorizedAccess (401002, what current hubs return for bad device credentials over
 * HTTP, CBS status 401, MQTT CONNACK 5 "not authorized"), except an unknown identity: 404001 DeviceNotFound /
 * 404010 ModuleNotFound (HTTP 404, as the SDK's e2e tests expect over HTTP; still CONNACK 5 on MQTT).
 */
function unauthorized(message: string, trackingId: string): HubError {
  return new HubError("IotHubUnauthorizedAccess", { message, trackingId });
}

function describe(key: IdentityKey): string {
  return key.moduleId === "" ? `device '${key.deviceId}'` : `module '${key.moduleId}' of device '${key.deviceId}'`;
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

function keyMatches(token: SasToken, key: string | null | undefined): boolean {
  return typeof key === "string" && key !== "" && sasSignatureMatches(token, key);
}

/** What authentication reads of an identity record; the cache keeps only this (a few hundred bytes, not the whole record). */
type AuthRecord = Pick<IdentityRecord, "deviceId" | "moduleId" | "status" | "generationId" | "authentication">;

/** Identity records DeviceAuth keeps (their AuthRecord part); past this it starts again from empty. */
const MAX_CACHED_RECORDS = 100_000;

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Authenticates devices and modules for the device gateways (MQTT CONNECT, AMQP CBS put-token or TLS client
 * certificate, HTTPS `Authorization` or client certificate). Choices it pins (its tests hold them):
 * - an unknown identity is reported before the credential is checked (IoT Hub answers 404 DeviceNotFound to a
 *   device that does not exist, whatever key signed the token);
 * - a module of a disabled device is refused like the disabled device itself;
 * - a shared access policy token (DeviceConnect) authenticates any identity whatever its authentication type, since
 *   the credential is the hub's, not the device's; a device's own keys only count when its type is "sas";
 * - X.509 CA: the leaf's subject CN must equal the device id, or "{deviceId}/{moduleId}" for a module.
 */
export class DeviceAuth {
  readonly #deps: DeviceAuthDeps;
  /** Parsed registered CAs by PEM text, so each is parsed once; entries whose PEM left the list are dropped. */
  #caCache = new Map<string, X509Certificate | null>();
  /**
   * Identity records already read, by device id then module id ("" for the device), so a connect does not read and
   * parse the row again. Only the fields authentication uses are relied on (keys, thumbprints, type, status,
   * generationId); the registry tells `identityChanged` after every write of an identity, which drops the entry.
   */
  readonly #records = new Map<string, Map<string, AuthRecord>>();
  #recordCount = 0;
  /** Bumped by every `identityChanged`: a read that started before a change is not cached after it. */
  #generation = 0;

  constructor(deps: DeviceAuthDeps) {
    this.#deps = deps;
  }

  /** SAS: the token a device sends (MQTT password, HTTPS Authorization, AMQP CBS put-token). */
  async authenticateSas(identity: IdentityKey, token: string, trackingId: string): Promise<DeviceAuthResult> {
    const key: IdentityKey = { deviceId: identity.deviceId, moduleId: identity.moduleId };
    const parsed = parseSasToken(token.trim());
    if (parsed === undefined) {
      throw unauthorized("Malformed SharedAccessSignature: expected 'SharedAccessSignature sr=…&sig=…&se=…'", trackingId);
    }
    const expiry = sasExpiry(parsed);
    if (expiry === undefined) {
      throw unauthorized("Malformed SharedAccessSignature: 'se' is not a number of seconds", trackingId);
    }
    const record = await this.#identity(key, trackingId);

    let credential: DeviceCredential;
    let policyName: string | undefined;
    if (parsed.skn !== undefined) {
      const keyName = safeDecode(parsed.skn);
      const policy = this.#deps.policies().find((p) => p.keyName === keyName);
      // Signature before rights, so a probe learns nothing about which policies exist.
      if (policy === undefined || !(keyMatches(parsed, policy.primaryKey) || keyMatches(parsed, policy.secondaryKey))) {
        throw unauthorized("The specified SAS token has an invalid signature: it matches no key of any shared access policy of this IoT hub", trackingId);
      }
      if (!policy.rights.includes("DeviceConnect")) {
        throw unauthorized(`Authorization rule '${policy.keyName}' does not allow access for 'DeviceConnect'`, trackingId);
      }
      credential = "policyKey";
      policyName = policy.keyName;
    } else {
      const auth = record.authentication;
      if (auth.type !== "sas") {
        throw unauthorized(
          auth.type === "none"
            ? `${capitalized(describe(key))} has no credentials of its own (authentication type 'none') and cannot connect with a SAS token`
            : `${capitalized(describe(key))} authenticates with X.509 certificates (authentication type '${auth.type}'), not SAS tokens`,
          trackingId,
        );
      }
      if (!(keyMatches(parsed, auth.symmetricKey?.primaryKey) || keyMatches(parsed, auth.symmetricKey?.secondaryKey))) {
        throw unauthorized(`The specified SAS token has an invalid signature: it matches neither the primary nor the secondary key of ${describe(key)}`, trackingId);
      }
      credential = "identityKey";
    }

    const now = this.#deps.wallClock.now();
    if (expiry <= now) {
      throw unauthorized(`The SAS token is expired: it expired at ${iso(expiry)}`, trackingId);
    }
    const resource = `${this.#deps.hostName}/devices/${key.deviceId}${key.moduleId === "" ? "" : `/modules/${key.moduleId}`}`;
    if (!sasResourceCovers(parsed, resource)) {
      const sr = safeDecode(parsed.sr) ?? parsed.sr;
      throw unauthorized(`The SAS token's resource '${sr}' does not cover ${describe(key)} ('${resource}')`, trackingId);
    }
    await this.#checkEnabled(record, trackingId);

    const scope = credential === "policyKey" ? "hub" : key.moduleId === "" ? "device" : "module";
    return {
      caller: { kind: "device", deviceId: key.deviceId, moduleId: key.moduleId },
      authMethod: sasAuthMethod(scope),
      credential,
      policyName,
      generationId: record.generationId,
      expiresAt: expiry,
    };
  }

  /**
   * X.509: the client certificate chain the TLS layer received, leaf first (`tlsSocket.getPeerX509Certificate()` and
   * its `issuerCertificate` links, or the PEM/DER the client sent, as node:crypto X509Certificate objects). The TLS
   * layer only proves the client holds the leaf's private key; this decides whether the leaf names the identity.
   */
  async authenticateX509(identity: IdentityKey, chain: readonly X509Certificate[], trackingId: string): Promise<DeviceAuthResult> {
    const key: IdentityKey = { deviceId: identity.deviceId, moduleId: identity.moduleId };
    const leaf = chain[0];
    if (leaf === undefined) {
      throw unauthorized(`No client certificate was presented for ${describe(key)}`, trackingId);
    }
    const record = await this.#identity(key, trackingId);
    const auth = record.authentication;
    const now = this.#deps.wallClock.now();
    let credential: DeviceCredential;

    if (auth.type === "selfSigned") {
      const { sha1, sha256 } = certificateThumbprints(leaf);
      const registered = [auth.x509Thumbprint?.primaryThumbprint, auth.x509Thumbprint?.secondaryThumbprint]
        .filter((t): t is string => typeof t === "string" && t !== "")
        .map((t) => t.toUpperCase());
      if (!registered.some((t) => t === sha1 || t === sha256)) {
        throw unauthorized(`The certificate thumbprint does not match ${describe(key)}: neither its SHA-1 nor its SHA-256 thumbprint is the primary or secondary thumbprint`, trackingId);
      }
      const period = validityPeriod(leaf);
      if (period === undefined) throw unauthorized(`The certificate of ${describe(key)} cannot be read`, trackingId);
      const state = validityState(period, now);
      if (state === "expired") throw unauthorized(`The certificate of ${describe(key)} expired at ${iso(period.notAfter)}`, trackingId);
      if (state === "notYetValid") throw unauthorized(`The certificate of ${describe(key)} is not valid before ${iso(period.notBefore)}`, trackingId);
      credential = "selfSigned";
    } else if (auth.type === "certificateAuthority") {
      const expected = key.moduleId === "" ? key.deviceId : `${key.deviceId}/${key.moduleId}`;
      const names = subjectCommonNames(leaf);
      if (names === undefined) throw unauthorized(`The certificate of ${describe(key)} cannot be read`, trackingId);
      if (names.length !== 1 || names[0] !== expected) {
        const shown = names.length === 0 ? "no common name" : `common name ${names.map((n) => `'${n}'`).join(", ")}`;
        throw unauthorized(`The certificate's subject (${shown}) does not match ${describe(key)}: the CN must be '${expected}'`, trackingId);
      }
      const verdict = verifyChain(chain, this.#trustedCas(), now);
      if (!verdict.ok) throw unauthorized(`The certificate chain of ${describe(key)} is not trusted: ${verdict.reason}`, trackingId);
      credential = "certificateAuthority";
    } else {
      throw unauthorized(
        auth.type === "none"
          ? `${capitalized(describe(key))} has no credentials of its own (authentication type 'none') and cannot connect with a certificate`
          : `${capitalized(describe(key))} authenticates with SAS tokens (authentication type 'sas'), not X.509 certificates`,
        trackingId,
      );
    }
    await this.#checkEnabled(record, trackingId);

    return {
      caller: { kind: "device", deviceId: key.deviceId, moduleId: key.moduleId },
      authMethod: x509AuthMethod(key.moduleId === "" ? "device" : "module"),
      credential,
      policyName: undefined,
      generationId: record.generationId,
      expiresAt: undefined,
    };
  }

  /**
   * The registry wrote or deleted an identity: forget what was read of it (for a device, of its modules too, since
   * deleting a device deletes them), so a disabled or deleted identity or a regenerated key counts at once.
   */
  identityChanged(key: IdentityKey): void {
    this.#generation++;
    const modules = this.#records.get(key.deviceId);
    if (modules === undefined) return;
    if (key.moduleId === "") {
      this.#records.delete(key.deviceId);
      this.#recordCount -= modules.size;
    } else if (modules.delete(key.moduleId)) {
      this.#recordCount--;
    }
  }

  async #identity(key: IdentityKey, trackingId: string): Promise<AuthRecord> {
    const record = await this.#lookup(key);
    if (record === undefined) throw identityNotFound(key, trackingId);
    return record;
  }

  async #lookup(key: IdentityKey): Promise<AuthRecord | undefined> {
    const cached = this.#records.get(key.deviceId)?.get(key.moduleId);
    if (cached !== undefined) return cached;
    const generation = this.#generation;
    const identity = await this.#deps.store.getIdentityRecord(key);
    if (identity === undefined) return undefined;
    const { deviceId, moduleId, status, generationId, authentication } = identity;
    const record: AuthRecord = { deviceId, moduleId, status, generationId, authentication };
    if (generation === this.#generation) this.#remember(record);
    return record;
  }

  #remember(record: AuthRecord): void {
    if (this.#recordCount >= MAX_CACHED_RECORDS) {
      this.#records.clear();
      this.#recordCount = 0;
    }
    let modules = this.#records.get(record.deviceId);
    if (modules === undefined) this.#records.set(record.deviceId, (modules = new Map()));
    if (!modules.has(record.moduleId)) this.#recordCount++;
    modules.set(record.moduleId, record);
  }

  /** Checked after the credential, so only a holder of valid credentials learns that the identity is disabled. */
  async #checkEnabled(record: AuthRecord, trackingId: string): Promise<void> {
    const key: IdentityKey = { deviceId: record.deviceId, moduleId: record.moduleId };
    if (record.status === "disabled") throw unauthorized(`${capitalized(describe(key))} is disabled`, trackingId);
    if (record.moduleId === "") return;
    const parent = await this.#lookup({ deviceId: record.deviceId, moduleId: "" });
    if (parent === undefined) throw identityNotFound(key, trackingId);
    if (parent.status === "disabled") {
      throw unauthorized(`Device '${record.deviceId}' is disabled, so its module '${record.moduleId}' cannot connect`, trackingId);
    }
  }

  #trustedCas(): X509Certificate[] {
    const pems = this.#deps.trustedCas();
    const next = new Map<string, X509Certificate | null>();
    for (const pem of pems) {
      let cert = this.#caCache.get(pem);
      if (cert === undefined) {
        try {
          cert = new X509Certificate(pem);
        } catch {
          cert = null; // not a certificate: trusts nothing (the CLI validates what it registers)
        }
      }
      next.set(pem, cert);
    }
    this.#caCache = next;
    return [...next.values()].filter((c): c is X509Certificate => c !== null);
  }
}
