import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { loadX509 } from "../../tls/x509.js";
import { generateEcKeyPair, randomSerialNumber, type CryptoKeyPair } from "../../tls/keys.js";
import {
  certificateThumbprints,
  describeSubject,
  subjectCommonNames,
  validityPeriod,
  validityState,
  verifyChain,
} from "./x509-identity.js";
import type { JsonName, X509Certificate as PeculiarCertificate } from "@peculiar/x509";

const x509 = await loadX509();

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
/** Certificate dates have whole seconds. */
const NOW = Date.UTC(2031, 4, 6, 7, 8, 9);

interface TestCert {
  readonly node: X509Certificate;
  readonly peculiar: PeculiarCertificate;
  readonly keys: CryptoKeyPair;
}

const ALG = { name: "ECDSA", hash: "SHA-256" } as const;

/** Makes a certificate: self-signed without `issuer`, else signed by it. */
async function makeCert(options: {
  subject: JsonName | string;
  issuer?: TestCert;
  ca?: boolean;
  notBefore?: number;
  notAfter?: number;
}): Promise<TestCert> {
  const keys = await generateEcKeyPair();
  const extensions = [new x509.BasicConstraintsExtension(options.ca ?? false, undefined, true)];
  const common = {
    serialNumber: randomSerialNumber(),
    notBefore: new Date(options.notBefore ?? NOW - HOUR),
    notAfter: new Date(options.notAfter ?? NOW + DAY),
    signingAlgorithm: ALG,
    extensions,
  };
  const peculiar =
    options.issuer === undefined
      ? await x509.X509CertificateGenerator.createSelfSigned({ ...common, name: options.subject, keys })
      : await x509.X509CertificateGenerator.create({
          ...common,
          subject: options.subject,
          issuer: options.issuer.peculiar.subjectName,
          publicKey: keys.publicKey,
          signingKey: options.issuer.keys.privateKey,
        });
  return { node: new X509Certificate(peculiar.toString("pem")), peculiar, keys };
}

test("certificateThumbprints() gives the SHA-1 and SHA-256 of the DER in upper-case hex without colons", async () => {
  const cert = await makeCert({ subject: "CN=dev1" });
  const t = certificateThumbprints(cert.node);
  assert.equal(t.sha1, createHash("sha1").update(cert.node.raw).digest("hex").toUpperCase());
  assert.equal(t.sha256, createHash("sha256").update(cert.node.raw).digest("hex").toUpperCase());
  assert.match(t.sha1, /^[0-9A-F]{40}$/);
  assert.match(t.sha256, /^[0-9A-F]{64}$/);
});

test("subjectCommonNames() reads every CN from the DER, in order, whatever else the subject holds", async () => {
  assert.deepEqual(subjectCommonNames((await makeCert({ subject: "CN=dev1, O=Contoso, C=US" })).node), ["dev1"]);
  assert.deepEqual(subjectCommonNames((await makeCert({ subject: [{ CN: ["dev1/mod1"] }, { O: ["Contoso"] }] })).node), ["dev1/mod1"]);
  assert.deepEqual(subjectCommonNames((await makeCert({ subject: [{ CN: ["a"] }, { CN: ["b"] }] })).node), ["a", "b"]);
  assert.deepEqual(subjectCommonNames((await makeCert({ subject: "O=Contoso" })).node), []);
  assert.deepEqual(subjectCommonNames((await makeCert({ subject: [{ CN: ["dév 1!*'()"] }] })).node), ["dév 1!*'()"]);
});

test("subjectCommonNames() cannot be fooled by a value that looks like another attribute", async () => {
  // Node's `subject` text puts each attribute on its own line, so this O value would read as a second CN there.
  const cert = await makeCert({ subject: [{ O: ["x\nCN=dev1"] }, { CN: ["attacker"] }] });
  assert.deepEqual(subjectCommonNames(cert.node), ["attacker"]);
});

test("validityPeriod() reads notBefore and notAfter, UTCTime before 2050 and GeneralizedTime after", async () => {
  const short = await makeCert({ subject: "CN=a", notBefore: NOW - HOUR, notAfter: NOW + DAY });
  assert.deepEqual(validityPeriod(short.node), { notBefore: NOW - HOUR, notAfter: NOW + DAY });
  const late = Date.UTC(2051, 0, 2, 3, 4, 5);
  const long = await makeCert({ subject: "CN=a", notBefore: Date.UTC(1999, 11, 31, 23, 59, 59), notAfter: late });
  assert.deepEqual(validityPeriod(long.node), { notBefore: Date.UTC(1999, 11, 31, 23, 59, 59), notAfter: late });
});

test("validityState() is valid inside the period, inclusive at both ends", () => {
  const period = { notBefore: 1000, notAfter: 2000 };
  assert.equal(validityState(period, 999), "notYetValid");
  assert.equal(validityState(period, 1000), "valid");
  assert.equal(validityState(period, 2000), "valid");
  assert.equal(validityState(period, 2001), "expired");
});

test("describeSubject() puts the subject on one line", async () => {
  assert.equal(describeSubject((await makeCert({ subject: "CN=dev1, O=Contoso" })).node), "CN=dev1, O=Contoso");
});

test("verifyChain() accepts a leaf signed by a registered CA, directly or through intermediates", async () => {
  const root = await makeCert({ subject: "CN=Root", ca: true });
  const intermediate = await makeCert({ subject: "CN=Intermediate", ca: true, issuer: root });
  const direct = await makeCert({ subject: "CN=dev1", issuer: root });
  const viaIntermediate = await makeCert({ subject: "CN=dev2", issuer: intermediate });

  const ok1 = verifyChain([direct.node], [root.node], NOW);
  assert.ok(ok1.ok && ok1.anchor === root.node);
  const ok2 = verifyChain([viaIntermediate.node, intermediate.node], [root.node], NOW);
  assert.ok(ok2.ok && ok2.anchor === root.node);
  // The client may send the root too; the path stops at the registered CA.
  assert.ok(verifyChain([viaIntermediate.node, intermediate.node, root.node], [root.node], NOW).ok);
  // An intermediate may itself be the registered CA.
  const ok3 = verifyChain([viaIntermediate.node], [intermediate.node], NOW);
  assert.ok(ok3.ok && ok3.anchor === intermediate.node);
});

test("verifyChain() refuses chains that do not reach a registered CA, with the reason", async () => {
  const root = await makeCert({ subject: "CN=Root", ca: true });
  const other = await makeCert({ subject: "CN=Other", ca: true });
  const intermediate = await makeCert({ subject: "CN=Intermediate", ca: true, issuer: root });
  const leaf = await makeCert({ subject: "CN=dev1", issuer: intermediate });

  const untrusted = verifyChain([leaf.node, intermediate.node], [other.node], NOW);
  assert.ok(!untrusted.ok);
  assert.match(untrusted.reason, /'CN=Intermediate' is not signed by any CA certificate registered/);

  const missingIntermediate = verifyChain([leaf.node], [root.node], NOW);
  assert.ok(!missingIntermediate.ok);
  assert.match(missingIntermediate.reason, /'CN=dev1' is not signed by any CA/);

  const wrongOrder = verifyChain([leaf.node, other.node], [root.node], NOW);
  assert.ok(!wrongOrder.ok);
  assert.match(wrongOrder.reason, /'CN=dev1' is not signed by the next certificate in the chain, 'CN=Other'/);

  assert.deepEqual(verifyChain([], [root.node], NOW), { ok: false, reason: "no client certificate was presented" });
});

test("verifyChain() refuses a leaf that is itself the registered CA", async () => {
  const root = await makeCert({ subject: "CN=dev1", ca: true });
  assert.ok(!verifyChain([root.node], [root.node], NOW).ok);
});

test("verifyChain() refuses an intermediate that is not a CA", async () => {
  const root = await makeCert({ subject: "CN=Root", ca: true });
  const notCa = await makeCert({ subject: "CN=NotCa", ca: false, issuer: root });
  const leaf = await makeCert({ subject: "CN=dev1", issuer: notCa });
  const verdict = verifyChain([leaf.node, notCa.node], [root.node], NOW);
  assert.ok(!verdict.ok);
  assert.match(verdict.reason, /'CN=NotCa' is not a CA certificate/);
});

test("verifyChain() refuses when any certificate on the path is outside its validity period", async () => {
  const root = await makeCert({ subject: "CN=Root", ca: true });
  const expiredRoot = await makeCert({ subject: "CN=Old root", ca: true, notBefore: NOW - 10 * DAY, notAfter: NOW - DAY });
  const expiredIntermediate = await makeCert({ subject: "CN=Old", ca: true, issuer: root, notBefore: NOW - 10 * DAY, notAfter: NOW - DAY });
  const leafOfOld = await makeCert({ subject: "CN=dev1", issuer: expiredIntermediate });
  const expiredLeaf = await makeCert({ subject: "CN=dev1", issuer: root, notBefore: NOW - 10 * DAY, notAfter: NOW - DAY });
  const futureLeaf = await makeCert({ subject: "CN=dev1", issuer: root, notBefore: NOW + HOUR, notAfter: NOW + DAY });
  const leafOfExpiredRoot = await makeCert({ subject: "CN=dev1", issuer: expiredRoot, notBefore: NOW - 2 * DAY });

  const cases: Array<[X509Certificate[], X509Certificate, RegExp]> = [
    [[expiredLeaf.node], root.node, /the device certificate 'CN=dev1' expired at /],
    [[futureLeaf.node], root.node, /the device certificate 'CN=dev1' is not valid before /],
    [[leafOfOld.node, expiredIntermediate.node], root.node, /the intermediate certificate 'CN=Old' expired at /],
    [[leafOfExpiredRoot.node], expiredRoot.node, /the registered CA certificate 'CN=Old root' expired at /],
  ];
  for (const [chain, ca, reason] of cases) {
    const verdict = verifyChain(chain, [ca], NOW);
    assert.ok(!verdict.ok);
    assert.match(verdict.reason, reason);
  }
});
