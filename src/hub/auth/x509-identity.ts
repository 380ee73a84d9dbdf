import type { X509Certificate } from "node:crypto";

/**
 * The facts about a client certificate that device authentication needs: thumbprints (IoT Hub's self-signed /
 * "thumbprint" authentication), the subject common name (CA authentication: CN = device id) and the validity
 * period, plus the chain check for CA-signed devices. Only `node:crypto` objects are used; the subject and the
 * validity are read from the DER itself, because Node's `subject` text is not an unambiguous encoding (a value may
 * contain a newline and "CN=") and its `validFrom` text is only parseable by a lenient date parser.
 */

/** SHA-1 and SHA-256 thumbprints as IoT Hub stores them: upper-case hex, no colons. */
export interface Thumbprints {
  readonly sha1: string;
  readonly sha256: string;
}

export function certificateThumbprints(cert: X509Certificate): Thumbprints {
  return { sha1: cert.fingerprint.replace(/:/g, "").toUpperCase(), sha256: cert.fingerprint256.replace(/:/g, "").toUpperCase() };
}

/** notBefore / notAfter in ms since the epoch. */
export interface ValidityPeriod {
  readonly notBefore: number;
  readonly notAfter: number;
}

/** Where a certificate stands against `now`: inside its validity period, not yet valid, or expired. */
export type ValidityState = "valid" | "notYetValid" | "expired";

export function validityState(period: ValidityPeriod, now: number): ValidityState {
  if (now < period.notBefore) return "notYetValid";
  if (now > period.notAfter) return "expired";
  return "valid";
}

// ---------------------------------------------------------------------------------------------------------------
// Minimal DER reading (X.690): just enough to walk Certificate → TBSCertificate → validity and subject.

interface Tlv {
  readonly tag: number;
  /** Offset of the first content byte. */
  readonly start: number;
  /** Offset just past the last content byte. */
  readonly end: number;
}

function readTlv(der: Uint8Array, pos: number, limit: number): Tlv | undefined {
  if (pos + 2 > limit) return undefined;
  const tag = der[pos]!;
  if ((tag & 0x1f) === 0x1f) return undefined; // multi-byte tags never occur in the parts we read
  let length = der[pos + 1]!;
  let start = pos + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0 || octets > 4 || start + octets > limit) return undefined;
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + der[start + i]!;
    start += octets;
  }
  const end = start + length;
  return end > limit ? undefined : { tag, start, end };
}

/** The TLVs directly inside a constructed TLV. */
function children(der: Uint8Array, parent: Tlv): Tlv[] | undefined {
  const out: Tlv[] = [];
  let pos = parent.start;
  while (pos < parent.end) {
    const tlv = readTlv(der, pos, parent.end);
    if (tlv === undefined) return undefined;
    out.push(tlv);
    pos = tlv.end;
  }
  return out;
}

const SEQUENCE = 0x30;
const SET = 0x31;
const OID = 0x06;
const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;
/** id-at-commonName, 2.5.4.3, as DER content bytes. */
const COMMON_NAME_OID = [0x55, 0x04, 0x03];

interface TbsParts {
  readonly validity: Tlv;
  readonly subject: Tlv;
}

function tbsParts(der: Uint8Array): TbsParts | undefined {
  const cert = readTlv(der, 0, der.length);
  if (cert === undefined || cert.tag !== SEQUENCE) return undefined;
  const tbs = children(der, cert)?.[0];
  if (tbs === undefined || tbs.tag !== SEQUENCE) return undefined;
  const fields = children(der, tbs);
  if (fields === undefined) return undefined;
  // TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer, validity, subject, … }
  const offset = fields[0]?.tag === 0xa0 ? 1 : 0;
  const validity = fields[offset + 3];
  const subject = fields[offset + 4];
  if (validity?.tag !== SEQUENCE || subject?.tag !== SEQUENCE) return undefined;
  return { validity, subject };
}

function ascii(der: Uint8Array, tlv: Tlv): string {
  return Buffer.from(der.buffer, der.byteOffset + tlv.start, tlv.end - tlv.start).toString("latin1");
}

/** RFC 5280 §4.1.2.5: UTCTime YYMMDDHHMMSSZ (YY ≥ 50 → 19YY) or GeneralizedTime YYYYMMDDHHMMSSZ. */
function parseTime(der: Uint8Array, tlv: Tlv): number | undefined {
  const text = ascii(der, tlv);
  const match =
    tlv.tag === UTC_TIME
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
      : tlv.tag === GENERALIZED_TIME
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/.exec(text)
        : null;
  if (match === null) return undefined;
  let year = Number(match[1]);
  if (tlv.tag === UTC_TIME) year += year >= 50 ? 1900 : 2000;
  const [month, day, hour, minute, second] = match.slice(2, 7).map(Number) as [number, number, number, number, number];
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The certificate's notBefore and notAfter; undefined when the certificate cannot be read. */
export function validityPeriod(cert: X509Certificate): ValidityPeriod | undefined {
  const der = new Uint8Array(cert.raw);
  const parts = tbsParts(der);
  if (parts === undefined) return undefined;
  const times = children(der, parts.validity);
  if (times?.length !== 2) return undefined;
  const notBefore = parseTime(der, times[0]!);
  const notAfter = parseTime(der, times[1]!);
  return notBefore === undefined || notAfter === undefined ? undefined : { notBefore, notAfter };
}

function decodeDirectoryString(der: Uint8Array, tlv: Tlv): string | undefined {
  const bytes = Buffer.from(der.buffer, der.byteOffset + tlv.start, tlv.end - tlv.start);
  switch (tlv.tag) {
    case 0x0c: // UTF8String
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x14: // TeletexString (read as Latin-1, as most tools do)
      return bytes.toString("latin1");
    case 0x1e: // BMPString: UTF-16BE
      return bytes.length % 2 === 0 ? Buffer.from(bytes).swap16().toString("utf16le") : undefined;
    case 0x1c: {
      // UniversalString: UTF-32BE
      if (bytes.length % 4 !== 0) return undefined;
      const points: number[] = [];
      for (let i = 0; i < bytes.length; i += 4) points.push(bytes.readUInt32BE(i));
      try {
        return String.fromCodePoint(...points);
      } catch {
        return undefined;
      }
    }
    default:
      return undefined;
  }
}

/**
 * Every commonName (2.5.4.3) value in the subject, in order; undefined when the certificate or one of its CN values
 * cannot be read (so a malformed name never matches a device id).
 */
export function subjectCommonNames(cert: X509Certificate): string[] | undefined {
  const der = new Uint8Array(cert.raw);
  const parts = tbsParts(der);
  if (parts === undefined) return undefined;
  const names: string[] = [];
  // Name ::= SEQUENCE OF RelativeDistinguishedName; RDN ::= SET OF AttributeTypeAndValue ::= SEQUENCE { type, value }
  const rdns = children(der, parts.subject);
  if (rdns === undefined) return undefined;
  for (const rdn of rdns) {
    const atvs = rdn.tag === SET ? children(der, rdn) : undefined;
    if (atvs === undefined) return undefined;
    for (const atv of atvs) {
      const [type, value] = children(der, atv) ?? [];
      if (atv.tag !== SEQUENCE || type?.tag !== OID || value === undefined) return undefined;
      const oid = der.subarray(type.start, type.end);
      if (oid.length !== COMMON_NAME_OID.length || !COMMON_NAME_OID.every((b, i) => oid[i] === b)) continue;
      let text: string | undefined;
      try {
        text = decodeDirectoryString(der, value);
      } catch {
        text = undefined;
      }
      if (text === undefined) return undefined;
      names.push(text);
    }
  }
  return names;
}

/** A one-line subject for messages ("CN=dev1, O=Contoso"). */
export function describeSubject(cert: X509Certificate): string {
  return cert.subject.split("\n").join(", ");
}

// ---------------------------------------------------------------------------------------------------------------
// Chain verification for CA-signed devices.

export type ChainVerdict =
  | { readonly ok: true; /** The registered CA the chain ends at. */ readonly anchor: X509Certificate }
  | { readonly ok: false; /** What is wrong, for the refusal message (no secrets in it). */ readonly reason: string };

function validityProblem(cert: X509Certificate, what: string, now: number): string | undefined {
  const period = validityPeriod(cert);
  if (period === undefined) return `${what} '${describeSubject(cert)}' cannot be read`;
  switch (validityState(period, now)) {
    case "notYetValid":
      return `${what} '${describeSubject(cert)}' is not valid before ${new Date(period.notBefore).toISOString()}`;
    case "expired":
      return `${what} '${describeSubject(cert)}' expired at ${new Date(period.notAfter).toISOString()}`;
    case "valid":
      return undefined;
  }
}

function signedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

function sameCertificate(a: X509Certificate, b: X509Certificate): boolean {
  return a.fingerprint256 === b.fingerprint256;
}

/**
 * Checks a client chain `[leaf, intermediate…]` (as the TLS layer received it) against the registered CA
 * certificates: each certificate must be signed by the next, every intermediate must be a CA, the last must be
 * signed by a registered CA (or be one), and every certificate on the path, the registered CA included, must be
 * inside its validity period at `now`. The path stops at the first registered CA met, so a client that also sends
 * the root does not need the root's issuer.
 */
export function verifyChain(chain: readonly X509Certificate[], trusted: readonly X509Certificate[], now: number): ChainVerdict {
  if (chain.length === 0) return { ok: false, reason: "no client certificate was presented" };
  for (let i = 0; i < chain.length; i++) {
    const cert = chain[i]!;
    const what = i === 0 ? "the device certificate" : "the intermediate certificate";
    const problem = validityProblem(cert, what, now);
    if (problem !== undefined) return { ok: false, reason: problem };
    if (i > 0 && !cert.ca) return { ok: false, reason: `${what} '${describeSubject(cert)}' is not a CA certificate` };

    // An intermediate the client sent may itself be a registered CA; the device certificate must be issued by one.
    const anchor = trusted.find((ca) => (sameCertificate(ca, cert) ? i > 0 : signedBy(cert, ca)));
    if (anchor !== undefined) {
      const anchorProblem = validityProblem(anchor, "the registered CA certificate", now);
      return anchorProblem === undefined ? { ok: true, anchor } : { ok: false, reason: anchorProblem };
    }
    const next = chain[i + 1];
    if (next === undefined) {
      return { ok: false, reason: `'${describeSubject(cert)}' is not signed by any CA certificate registered with this IoT hub` };
    }
    if (!signedBy(cert, next)) {
      return { ok: false, reason: `'${describeSubject(cert)}' is not signed by the next certificate in the chain, '${describeSubject(next)}'` };
    }
  }
  // Unreachable: the loop returns at the last certificate.
  return { ok: false, reason: "the certificate chain does not lead to a registered CA certificate" };
}
