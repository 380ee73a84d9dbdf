import { createServer, type Server, type TLSSocket } from "node:tls";
import type { Duplex } from "node:stream";
import rhea, { type Connection, type EventContext, type Receiver, type Sender } from "rhea";
import type { Hub } from "../../hub/index.js";
import type { Logger } from "../../observability/logger.js";
import { peerChain } from "../../shared/peer-chain.js";
import { serverTlsOptions } from "../../tls/server-tls-options.js";
import { AmqpConnection } from "./amqp-connection.js";
import type { LinkFactory } from "./link-handler.js";
import type { LinkAddress } from "./link-address.js";
import { SERVICE_LINK_FACTORIES } from "./service-links.js";
import { EVENT_HUB_LINK_FACTORIES } from "./event-hub-links.js";

export interface AmqpGatewayDeps {
  readonly hub: Hub;
  readonly logger: Logger;
  readonly tls: { readonly certPem: string; readonly keyPem: string };
  /** The hub's entity name on the Event Hub-compatible endpoint. */
  readonly eventHubName: string;
  /** Replaces handlers of the back-end and Event Hub links, by address kind (tests). */
  readonly factories?: Partial<Record<LinkAddress["kind"], LinkFactory>>;
}

export interface AmqpGateway {
  /** Listens for AMQP over TLS (5671); resolves with the bound port. */
  listen(host: string, port: number): Promise<number>;
  /** Serves one AMQP connection arriving over WebSocket on 443 (subprotocol AMQPWSB10). */
  accept(stream: Duplex, socket: TLSSocket | undefined): void;
  close(): Promise<void>;
}

// IoT Hub advertises a 240 s idle timeout (edgehub-server-notes.md §2.1): clients then send a frame every 120 s, and
// rhea answers clients that ask for one (Event Hubs asks 60 s) with empty frames at half their interval.
const IDLE_TIME_OUT_MS = 240_000;

/**
 * AMQP 1.0 for devices, back ends and Event Hubs readers, on one listener: the IoT SDKs send the bare AMQP header,
 * @azure/event-hubs sends SASL ANONYMOUS; both authenticate afterwards on `$cbs` (service-protocol.md §11.1).
 */
export function createAmqpGateway(deps: AmqpGatewayDeps): AmqpGateway {
  // No autoaccept: rhea would otherwise dispose every incoming message as accepted before its handler runs, so a
  // message the hub then fails to store (or refuses: queue full, too large) would already look delivered to the
  // sender. IoT Hub accepts only once a message is durable; every receiver handler settles its deliveries itself.
  const container = rhea.create_container({ id: `malachite-${deps.hub.hostName}`, autoaccept: false });
  container.sasl_server_mechanisms.enable_anonymous();
  // SASL EXTERNAL (X.509 clients that negotiate SASL): the mechanism itself proves nothing; the TLS client certificate
  // is checked against the identity each link names, exactly as for clients that skip SASL.
  (container as unknown as { sasl: { server_add_external(m: unknown): unknown } }).sasl.server_add_external(container.sasl_server_mechanisms);
  const factories = { ...SERVICE_LINK_FACTORIES, ...EVENT_HUB_LINK_FACTORIES, ...deps.factories };
  const connections = new Map<Connection, AmqpConnection>();
  const stateOf = (context: EventContext): AmqpConnection | undefined => connections.get(context.connection);

  container.on("sender_open", (context: EventContext) => stateOf(context)?.linkOpened(context.sender!, context));
  container.on("receiver_open", (context: EventContext) => stateOf(context)?.linkOpened(context.receiver!, context));
  container.on("message", (context: EventContext) => stateOf(context)?.message(context.receiver!, context.delivery!, context.message!));
  for (const outcome of ["accepted", "rejected", "released", "modified"] as const) {
    container.on(outcome, (context: EventContext) => stateOf(context)?.outcome(context.sender!, context.delivery!, outcome));
  }
  container.on("sendable", (context: EventContext) => stateOf(context)?.sendable(context.sender!));
  const linkClosed = (link: Sender | Receiver | undefined, context: EventContext): void => {
    if (link !== undefined) stateOf(context)?.linkClosed(link);
  };
  container.on("sender_close", (context: EventContext) => linkClosed(context.sender, context));
  container.on("receiver_close", (context: EventContext) => linkClosed(context.receiver, context));
  // Errors on a link or connection are the peer's; they are logged and the link or connection ends.
  for (const event of ["sender_error", "receiver_error", "session_error", "connection_error", "protocol_error", "error"]) {
    container.on(event, (context: EventContext) => deps.logger.debug({ err: context.error, event }, "AMQP peer error"));
  }
  const ended = (context: EventContext): void => {
    const connection = connections.get(context.connection);
    connections.delete(context.connection);
    connection?.ended();
  };
  container.on("disconnected", ended);
  container.on("connection_close", ended);
  container.on("session_close", (context: EventContext) => {
    // A session ending takes its links with it; rhea emits no link events for them.
    const session = context.session as unknown as { links: Record<string, Sender | Receiver> };
    for (const link of Object.values(session.links)) linkClosed(link, context);
  });

  const accept = (stream: Duplex, socket: TLSSocket | undefined): void => {
    const connection = container.create_connection({ id: deps.hub.ids.trackingId(), idle_time_out: IDLE_TIME_OUT_MS } as never);
    tolerateFramesAfterEnd(connection);
    const state = new AmqpConnection(
      { hub: deps.hub, logger: deps.logger, factories, eventHubName: deps.eventHubName },
      connection,
      peerChain(socket),
      socket?.remoteAddress,
    );
    connections.set(connection, state);
    stream.on("error", (error) => deps.logger.debug({ err: error }, "AMQP socket error"));
    (connection as unknown as { accept(socket: Duplex): void }).accept(stream);
  };
  const server: Server = createServer(serverTlsOptions(deps.tls), (socket) => {
    socket.setNoDelay(true);
    accept(socket, socket);
  });
  server.on("tlsClientError", (error) => deps.logger.debug({ err: error }, "AMQP TLS handshake failed"));
  return {
    accept,
    listen: (host, port) =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          const address = server.address();
          resolve(typeof address === "object" && address !== null ? address.port : port);
        });
      }),
    async close() {
      for (const connection of connections.values()) connection.close("ServiceUnavailable");
      connections.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * rhea drops the whole connection with a protocol error when a frame arrives for a session that has ended. The Event
 * Hubs SDK does send such frames: closing a receiver mid-stream, it sends `end` and then still a flow or disposition
 * for what was in flight, and its close() then never resolves (found by `npm run bench:amqp`). Frames for a session
 * that no longer exists concern nothing the hub still holds, so they are ignored instead.
 */
function tolerateFramesAfterEnd(connection: Connection): void {
  const raw = connection as unknown as Record<string, unknown> & { remote_channel_map: Record<number, unknown> };
  for (const name of ["on_disposition", "on_flow", "on_transfer", "on_detach", "on_end"]) {
    const original = raw[name] as (frame: { channel: number }) => void;
    raw[name] = function (this: typeof raw, frame: { channel: number }) {
      if (this.remote_channel_map[frame.channel] === undefined) return;
      original.call(this, frame);
    };
  }
}
