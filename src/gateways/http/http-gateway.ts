import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import { WebSocketServer, createWebSocketStream } from "ws";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { HubError, isDropFault, type Hub } from "../../hub/index.js";
import type { Logger } from "../../observability/logger.js";
import { serverTlsOptions } from "../../tls/server-tls-options.js";
import { renderHttpError } from "./render-error.js";
import { toHubError } from "./to-hub-error.js";
import { parseJsonBody } from "./json-body.js";
import { registerServiceRoutes } from "./routes/service-routes.js";
import type { ResourceLogSearch } from "./routes/admin-logs-route.js";
import { registerDeviceRoutes } from "./routes/device-routes.js";

export interface HttpGatewayDeps {
  readonly hub: Hub;
  readonly logger: Logger;
  readonly tls: { readonly certPem: string; readonly keyPem: string };
  /**
   * Protocols served over WebSocket at `/$iothub/websocket`, by subprotocol ("mqtt", "AMQPWSB10"): the SDKs'
   * MqttWs and AmqpWs transports. The handler receives the WebSocket as a byte stream and the TLS socket under it.
   */
  readonly webSockets?: Readonly<Record<string, (stream: Duplex, socket: TLSSocket) => void>>;
  /** The hub's resource logs, served at `GET /admin/logs`; without it the route does not exist. */
  readonly resourceLogs?: ResourceLogSearch;
}

export interface HttpGateway {
  readonly app: FastifyInstance;
  /** Starts listening; resolves with the bound port once connections are accepted. */
  listen(host: string, port: number): Promise<number>;
  close(): Promise<void>;
}

declare module "fastify" {
  interface FastifyRequest {
    trackingId: string;
  }
}

// Twin documents are at most 8 KB + 32 KB + 32 KB and a bulk request 100 devices; 1 MB leaves room for both with
// JSON overhead while refusing anything absurd with 413 before it is buffered.
const BODY_LIMIT = 1024 * 1024;

/** The HTTPS listener: the service REST API (and later the device API, admin API and WebSocket upgrades). */
export function createHttpGateway(deps: HttpGatewayDeps): HttpGateway {
  const app = Fastify({
    // Client certificates are requested but not required: X.509 devices on MQTT or AMQP over WebSocket present
    // theirs here, and refusals must come at the protocol level (CONNACK 5), not as a failed handshake.
    https: serverTlsOptions(deps.tls),
    logger: false,
    bodyLimit: BODY_LIMIT,
    routerOptions: {
      // Device and module ids are up to 128 characters, percent-encoded up to three times as long.
      maxParamLength: 1024,
      ignoreTrailingSlash: true,
    },
    return503OnClosing: false,
  }) as unknown as FastifyInstance;

  app.decorateRequest("trackingId", "");
  app.addHook("onRequest", async (request) => {
    request.trackingId = deps.hub.ids.trackingId();
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  app.setErrorHandler((thrown, request, reply) => sendError(deps, thrown, request, reply));
  app.setNotFoundHandler((request, reply) => {
    const message = `No IoT Hub operation is served at ${request.method} ${request.url.split("?")[0]}`;
    sendError(deps, new HubError("NotFound", { message }), request, reply);
  });

  registerServiceRoutes(app, deps.hub, { resourceLogs: deps.resourceLogs });
  registerDeviceRoutes(app, deps.hub, deps.logger);
  serveWebSockets(app, deps);

  return {
    app,
    async listen(host, port) {
      await app.listen({ host, port });
      const address = app.server.address();
      return typeof address === "object" && address !== null ? address.port : port;
    },
    async close() {
      await app.close();
    },
  };
}

function sendError(deps: HttpGatewayDeps, thrown: unknown, request: FastifyRequest, reply: FastifyReply): void {
  // A "drop" fault rule: the connection goes without an answer, as a network failure would look.
  if (isDropFault(thrown)) return void request.raw.socket.destroy();
  const { error, unexpected } = toHubError(thrown);
  if (unexpected) {
    deps.logger.error({ err: thrown, trackingId: request.trackingId, method: request.method, url: request.url.split("?")[0] }, "Unexpected error in an HTTPS request");
  }
  const response = renderHttpError(error, request.trackingId, deps.hub.clock.now());
  void reply.code(response.status).headers(response.headers).send(response.body);
}

// Event Hubs readers use `/$servicebus/websocket` (service-protocol.md §11.10); it serves AMQP only.
const WEBSOCKET_PATHS = new Set(["/$iothub/websocket", "/%24iothub/websocket"]);
const SERVICEBUS_PATHS = new Set(["/$servicebus/websocket", "/%24servicebus/websocket"]);

/** Upgrades `/$iothub/websocket` to the protocol its subprotocol names; anything else is refused before upgrading. */
function serveWebSockets(app: FastifyInstance, deps: HttpGatewayDeps): void {
  const handlers = deps.webSockets ?? {};
  const wss = new WebSocketServer({
    noServer: true,
    // No message is larger than a 256 KB telemetry message plus framing; bigger frames close the socket.
    maxPayload: 1024 * 1024,
    handleProtocols: (protocols) => [...protocols].find((p) => Object.hasOwn(handlers, p)) ?? false,
  });
  app.server.on("upgrade", (request, socket, head) => {
    const path = (request.url ?? "").split("?")[0] ?? "";
    const offered = String(request.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim());
    const protocol = offered.find((p) => Object.hasOwn(handlers, p));
    const served = WEBSOCKET_PATHS.has(path) || (SERVICEBUS_PATHS.has(path) && protocol === "AMQPWSB10");
    if (!served || protocol === undefined) {
      socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      const stream = createWebSocketStream(ws);
      stream.on("error", () => stream.destroy());
      handlers[protocol]!(stream, socket as TLSSocket);
    });
  });
}
