import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import { createServer, type Server, type TLSSocket } from "node:tls";
import type { Duplex } from "node:stream";
import type { Hub } from "../../hub/index.js";
import type { Logger } from "../../observability/logger.js";
import { MqttSession } from "./mqtt-session.js";
import { peerChain } from "../../shared/peer-chain.js";
import { serverTlsOptions } from "../../tls/server-tls-options.js";
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
  /** Listens for MQTT over plain TCP, for a TLS-terminating proxy in front of the hub; resolves with the bound port. */
  listenPlain(host: string, port: number): Promise<number>;
  /** Serves one MQTT connection arriving another way (WebSocket on 443, subprotocol "mqtt"). */
  accept(stream: Duplex, socket: TLSSocket | undefined): void;
  close(): Promise<void>;
}

export function createMqttGateway(deps: MqttGatewayDeps): MqttGateway {
  const sessions = new Set<MqttSession>();
  const accept = (stream: Duplex, socket: TLSSocket | undefined): void => {
    // A plain TCP stream is its own socket; a WebSocket stream's peer is the TLS socket under it.
    const ipAddress = socket?.remoteAddress ?? (stream as Partial<Socket>).remoteAddress;
    const session = new MqttSession({ hub: deps.hub, logger: deps.logger, subscriptions: deps.subscriptions }, stream, peerChain(socket), ipAddress);
    sessions.add(session);
    stream.once("close", () => sessions.delete(session));
  };
  const server: Server = createServer(serverTlsOptions(deps.tls), (socket) => {
    socket.setNoDelay(true);
    accept(socket, socket);
  });
  let plain: TcpServer | undefined;
  server.on("tlsClientError", (error) => deps.logger.debug({ err: error }, "MQTT TLS handshake failed"));
  return {
    accept,
    listen: (host, port) => listenOn(server, host, port),
    listenPlain(host, port) {
      plain ??= createTcpServer((socket) => {
        socket.setNoDelay(true);
        accept(socket, undefined);
      });
      return listenOn(plain, host, port);
    },
    async close() {
      for (const session of sessions) session.close("ServiceUnavailable");
      const plainServer = plain;
      if (plainServer !== undefined) await new Promise<void>((resolve) => plainServer.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function listenOn(server: Server | TcpServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : port);
    });
  });
}
