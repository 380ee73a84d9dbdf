import { exportPrivateKeyPem, generateEcKeyPair, randomSerialNumber } from "./keys.js";
import { loadX509 } from "./x509.js";

const DAY_MS = 24 * 60 * 60 * 1000;
/** Ten years: a local CA is trusted once by hand (NODE_EXTRA_CA_CERTS, OS store) and should not need re-trusting. */
export const CA_LIFETIME_DAYS = 3652;
/** Certificates start an hour in the past so clients with a slightly slow clock accept them at once. */
export const BACKDATE_MS = 60 * 60 * 1000;

/** Makes a standalone CA (for the test run, `malachite ca create`, or the hub's local CA): returns PEMs. */
export async function createCertificateAuthority(
  commonName: string,
  now: Date = new Date(),
): Promise<{ certPem: string; keyPem: string }> {
  const x509 = await loadX509();
  const keys = await generateEcKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: [{ CN: [commonName] }, { O: ["Malachite"] }],
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + CA_LIFETIME_DAYS * DAY_MS),
    keys,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    extensions: [
      // pathLength 0: this CA signs end-entity certificates only, never another CA.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: `${cert.toString("pem")}\n`, keyPem: await exportPrivateKeyPem(keys.privateKey) };
}
