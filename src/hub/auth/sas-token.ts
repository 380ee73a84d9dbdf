import { createHmac, timingSafeEqual } from "node:crypto";

/** The fields of `SharedAccessSignature sr=…&sig=…&se=…[&skn=…]`, as sent (still URL-encoded). */
export interface SasToken {
  readonly sr: string;
  readonly sig: string;
  readonly se: string;
  readonly skn: string | undefined;
}

const PREFIX = "SharedAccessSignature ";

/** Splits a SAS token; undefined when it is not one (missing prefix or one of sr, sig, se). */
export function parseSasToken(text: string): SasToken | undefined {
  if (!text.startsWith(PREFIX)) return undefined;
  const fields = new Map<string, string>();
  for (const part of text.slice(PREFIX.length).trim().split("&")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const sr = fields.get("sr");
  const sig = fields.get("sig");
  const se = fields.get("se");
  if (sr === undefined || sig === undefined || se === undefined) return undefined;
  return { sr, sig, se, skn: fields.get("skn") };
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/**
 * Checks the signature against one base64 key. IoT Hub signs exactly the `sr` bytes in the token (the Node SDK
 * neither lower-cases nor encodes it), and compares in constant time so the check leaks nothing about the key.
 */
export function sasSignatureMatches(token: SasToken, base64Key: string): boolean {
  return sasSignatureMatchesKey(token, Buffer.from(base64Key, "base64"));
}

/**
 * Checks the signature against raw HMAC key bytes. IoT Hub's SDKs use the base64-decoded key (sasSignatureMatches);
 * the Event Hubs SDKs use the UTF-8 bytes of the key string itself, so the Event Hub-compatible endpoint calls this.
 */
export function sasSignatureMatchesKey(token: SasToken, key: Buffer): boolean {
  const sig = safeDecode(token.sig);
  if (sig === undefined) return false;
  const given = Buffer.from(sig, "base64");
  const expected = createHmac("sha256", key).update(`${token.sr}\n${token.se}`).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Expiry in ms since the epoch, or undefined when `se` is not an integer. */
export function sasExpiry(token: SasToken): number | undefined {
  return /^\d{1,15}$/.test(token.se) ? Number(token.se) * 1000 : undefined;
}

/**
 * Does the token's resource (decoded `sr`) cover `resource`? Case-insensitive, segment by segment: "/a/b" covers
 * "/a/b/c" but not "/a/bc" (Learn: "Control access to IoT Hub using SAS").
 */
export function sasResourceCovers(token: SasToken, resource: string): boolean {
  const sr = safeDecode(token.sr);
  if (sr === undefined) return false;
  const scope = sr.toLowerCase().replace(/\/+$/, "").split("/");
  const target = resource.toLowerCase().split("/");
  return scope.length <= target.length && scope.every((segment, i) => segment === target[i]);
}

/** Builds a token the way the SDKs do (used by the CLI and tests to talk to the hub). */
export function createSasToken(resource: string, base64Key: string, expiresAtSeconds: number, keyName?: string): string {
  const sig = createHmac("sha256", Buffer.from(base64Key, "base64")).update(`${resource}\n${expiresAtSeconds}`).digest("base64");
  const skn = keyName === undefined ? "" : `&skn=${encodeURIComponent(keyName)}`;
  return `${PREFIX}sr=${resource}&sig=${encodeURIComponent(sig)}&se=${expiresAtSeconds}${skn}`;
}
