import { constants } from "node:crypto";
import type { TlsOptions } from "node:tls";

/**
 * The cipher suites IoT Hub accepts since it began enforcing TLS 1.2 with the recommended strong suites for every hub
 * (31 August 2025, Learn "Transport Layer Security (TLS) support in IoT Hub"): ECDHE key exchange with AES-GCM, for
 * ECDSA certificates (the hub's own) and RSA ones (a certificate the user brings). OpenSSL names, in that order.
 */
export const IOT_HUB_CIPHERS = [
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES128-GCM-SHA256",
].join(":");

/**
 * What every TLS listener of the hub (MQTT 8883, AMQP 5671, HTTPS and WebSockets 443) negotiates, as IoT Hub does:
 * TLS 1.2 only (IoT Hub ended 1.0 and 1.1 and has never offered 1.3, so a client that insists on 1.3 fails here as
 * it would against Azure), the suites above, and a client certificate requested in the first handshake but not
 * required (Learn: for AMQP and MQTT "IoT Hub requests a client certificate in the initial TLS handshake"). Any
 * certificate is accepted at this layer: an X.509 device that is not registered is refused by the protocol (CONNACK
 * 5, HTTP 401), as the SDKs expect, not by a failed handshake (device-protocol §0.18). No session resumption: IoT
 * Hub offers neither session tickets nor session-id reuse (the Azure C SDK team: "we currently do not support this",
 * azure-c-shared-utility#64; Nordic's nRF SDK turns session caching off for it, sdk-nrf#3962), so every connection is
 * a full handshake, and the hub does not spend a ticket on each one. Decision 0014.
 */
export function serverTlsOptions(tls: { readonly certPem: string; readonly keyPem: string }): TlsOptions {
  return {
    cert: tls.certPem,
    key: tls.keyPem,
    minVersion: "TLSv1.2",
    maxVersion: "TLSv1.2",
    ciphers: IOT_HUB_CIPHERS,
    requestCert: true,
    rejectUnauthorized: false,
    // No tickets; and with no 'newSession'/'resumeSession' listeners Node keeps no session-id cache either.
    secureOptions: constants.SSL_OP_NO_TICKET,
  };
}
