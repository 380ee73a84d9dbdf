import { createPrivateKey, randomBytes, webcrypto } from "node:crypto";
import { loadX509 } from "./x509.js";

export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** ECDSA P-256: what IoT Hub's own endpoints and the design call for, and cheap for constrained TLS clients. */
const EC_P256 = { name: "ECDSA", namedCurve: "P-256" } as const;

export async function generateEcKeyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC_P256, true, ["sign", "verify"])) as CryptoKeyPair;
}

/** PKCS#8 PEM ("BEGIN PRIVATE KEY"), which `tls.createSecureContext` and `crypto.createPrivateKey` read. */
export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  const x509 = await loadX509();
  const der = await webcrypto.subtle.exportKey("pkcs8", key);
  return `${x509.PemConverter.encode(der, "PRIVATE KEY")}\n`;
}

export interface SigningKey {
  readonly key: CryptoKey;
  /** The signature algorithm matching the key, as @peculiar/x509 wants it. */
  readonly algorithm: { name: string; hash: string };
}

/** The hash conventionally paired with each curve (RFC 5480), so a P-384 CA signs with SHA-384. */
const CURVES: Record<string, { webName: string; hash: string }> = {
  prime256v1: { webName: "P-256", hash: "SHA-256" },
  secp384r1: { webName: "P-384", hash: "SHA-384" },
  secp521r1: { webName: "P-521", hash: "SHA-512" },
};

/**
 * Imports a CA private key in any PEM form Node reads (PKCS#8, SEC1 "EC PRIVATE KEY", PKCS#1 "RSA PRIVATE KEY"),
 * since a CA handed to the hub may have been made by any tool, and returns it as a WebCrypto signing key.
 */
export async function importSigningKey(pem: string): Promise<SigningKey> {
  const keyObject = createPrivateKey(pem);
  const der = keyObject.export({ type: "pkcs8", format: "der" });
  if (keyObject.asymmetricKeyType === "ec") {
    const curveName = keyObject.asymmetricKeyDetails?.namedCurve ?? "";
    const curve = CURVES[curveName];
    if (curve === undefined) throw new Error(`unsupported EC curve for a CA key: ${curveName || "unknown"}`);
    const key = await webcrypto.subtle.importKey("pkcs8", der, { name: "ECDSA", namedCurve: curve.webName }, false, [
      "sign",
    ]);
    return { key, algorithm: { name: "ECDSA", hash: curve.hash } };
  }
  if (keyObject.asymmetricKeyType === "rsa") {
    const algorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    const key = await webcrypto.subtle.importKey("pkcs8", der, algorithm, false, ["sign"]);
    return { key, algorithm };
  }
  throw new Error(`unsupported CA key type: ${keyObject.asymmetricKeyType ?? "unknown"} (use an EC or RSA key)`);
}

/** A random positive 128-bit serial number (RFC 5280 allows up to 20 octets; browsers expect 64+ random bits). */
export function randomSerialNumber(): string {
  const bytes = randomBytes(16);
  // Clear the sign bit so the DER INTEGER is positive, and keep the first octet non-zero so it is minimal.
  bytes[0] = bytes[0]! & 0x7f || 0x01;
  return bytes.toString("hex");
}
