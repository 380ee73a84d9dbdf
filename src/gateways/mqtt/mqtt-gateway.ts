import { createServer, type Server, type TLSSocket } from "node:tls";
import type { Duplex } from "node:stream";
import type { X509Certificate } from "node:crypto";
import type { Hub } from "../../hub/index.js";
import type { Logger } from "../../observability/logger.js";
import { MqttSession } from "./mqtt-session.js";
import type { SubscriptionStore } from "./subscription-store.js";

export interface MqttGatewayDeps {
  readonly hub: Hub;
  readonly logger: Logger;
  readonly tls: { readonly certPem: string; readonly keyPem: string };
  readonly subscriptions: SubscriptionStore;
}

export interface MqttGateway {
  /** Listens for MQTT over TLS; resolves with the bound port. */
  listen(host: string, port: number): Promise<number>;
  /** Serves one MQTT connection arriving another way (WebSocket on 443, subprotocol "mqtt"). */
  accept(stream: Duplex, socket: TLSSocket | undefined): void;
  close(): Promise<void>;
}

/**
 * The client certificate chain, leaf first, as X.509 devices present it. The TLS handshake accepts any client
 * certificate (or none) so the device is refused at the MQTT level with CONNACK 5, which the SDK reports as
 * UnauthorizedError; a TLS-level refusal would surface as a raw socket error (device-protocol §0.18).
 */
export function peerChain(socket: TLSSocket | undefined): X509Certificate[] {
  const chain: X509Certificate[] = [];
  let cert = socket?.getPeerX509Certificate();
  const seen = new Set<string>();
  while (cert !== undefined && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    chain.push(cert);
    if (cert.checkIssued(cert)) break;
    const issuer = (cert as X509Certificate & { issuerCertificate?: X509Certificate }).issuerCertificate;
    cert = issuer;
  }
  return chain;
}

export function createMqttGateway(deps: MqttGatewayDeps): MqttGateway {
  const sessions = new Set<MqttSession>();
  const accept = (stream: Duplex, socket: TLSSocket | undefined): void => {
    const session = new MqttSession({ hub: deps.hub, logger: deps.logger, subscriptions: deps.subscriptions }, stream, peerChain(socket));
    sessions.add(session);
    stream.once("close", () => sessions.delete(session));
  };
  const server: Server = createServer({ cert: deps.tls.certPem, key: deps.tls.keyPem, requestCert: true, rejectUnauthorized: false }, (socket) => {
    socket.setNoDelay(true);
    accept(socket, socket);
  });
  server.on("tlsClientError", (error) => deps.logger.debug({ err: error }, "MQTT TLS handshake failed"));
  return {
    accept,
    listen(host, port) {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          const address = server.address();
          resolve(typeof address === "object" && address !== null ? address.port : port);
        });
      });
    },
    close() {
      for (const session of sessions) session.close("ServiceUnavailable");
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
