import { isIP } from "node:net";
import { BACKDATE_MS } from "./create-certificate-authority.js";
import { exportPrivateKeyPem, generateEcKeyPair, importSigningKey, randomSerialNumber } from "./keys.js";
import { loadX509 } from "./x509.js";

const DAY_MS = 24 * 60 * 60 * 1000;
/**
 * 825 days: the longest validity Apple platforms accept for a TLS server certificate from a locally trusted CA.
 * The hub reissues well before expiry, so the length only matters for copies of the certificate made elsewhere.
 */
export const SERVER_CERT_LIFETIME_DAYS = 825;

export interface IssueServerCertificateOptions {
  /** The issuing CA: its certificate (first PEM block) and private key. */
  readonly issuer: { readonly certPem: string; readonly keyPem: string };
  /** DNS names and IP addresses the certificate is for; the first is also the subject CN. */
  readonly names: readonly string[];
  readonly now?: Date;
}

/** Issues an ECDSA P-256 TLS server certificate. Returns the leaf certificate and its key as PEM. */
export async function issueServerCertificate(
  options: IssueServerCertificateOptions,
): Promise<{ certPem: string; keyPem: string }> {
  const x509 = await loadX509();
  const now = options.now ?? new Date();
  const names = options.names;
  if (names.length === 0) throw new Error("a server certificate needs at least one name");
  const issuerCert = new x509.X509Certificate(options.issuer.certPem);
  const signer = await importSigningKey(options.issuer.keyPem);
  const keys = await generateEcKeyPair();

  // Never outlive the issuer: a certificate valid past its CA fails verification at that point anyway.
  const notAfter = new Date(Math.min(now.getTime() + SERVER_CERT_LIFETIME_DAYS * DAY_MS, issuerCert.notAfter.getTime()));

  // The AKI must equal the issuer's SKI byte for byte, or OpenSSL will not build the chain; only compute one from
  // the issuer's key when its certificate carries no SKI.
  const issuerSki = issuerCert.getExtension(x509.SubjectKeyIdentifierExtension);
  const authorityKeyId = issuerSki
    ? new x509.AuthorityKeyIdentifierExtension(issuerSki.keyId)
    : await x509.AuthorityKeyIdentifierExtension.create(issuerCert.publicKey);

  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber(),
    subject: [{ CN: [names[0]!] }, { O: ["Malachite"] }],
    // The issuer's encoded name as-is, so name chaining never depends on re-encoding a DN string.
    issuer: issuerCert.subjectName,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter,
    publicKey: keys.publicKey,
    signingKey: signer.key,
    signingAlgorithm: signer.algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension(
        names.map((name) => (isIP(name) !== 0 ? { type: "ip" as const, value: name } : { type: "dns" as const, value: name })),
        false,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      authorityKeyId,
    ],
  });
  return { certPem: `${cert.toString("pem")}\n`, keyPem: await exportPrivateKeyPem(keys.privateKey) };
}
