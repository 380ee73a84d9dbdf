import type { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";

/**
 * The client certificate chain of a TLS connection, leaf first (empty without one), as X.509 devices present it.
 * The listeners request but do not require a client certificate and accept any, so an X.509 device with an unknown
 * certificate is refused by the hub at the protocol level (CONNACK 5, HTTP 401), not by a failed handshake, which the
 * SDKs would report as a raw socket error (device-protocol §0.18).
 */
export function peerChain(socket: TLSSocket | undefined): X509Certificate[] {
  const chain: X509Certificate[] = [];
  let cert = typeof socket?.getPeerX509Certificate === "function" ? socket.getPeerX509Certificate() : undefined;
  const seen = new Set<string>();
  while (cert !== undefined && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    chain.push(cert);
    if (cert.checkIssued(cert)) break;
    cert = (cert as X509Certificate & { issuerCertificate?: X509Certificate }).issuerCertificate;
  }
  return chain;
}
