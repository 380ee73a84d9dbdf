import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { HubError, type Hub } from "../../hub/index.js";
import type { Logger } from "../../observability/logger.js";
import { renderHttpError } from "./render-error.js";
import { toHubError } from "./to-hub-error.js";
import { parseJsonBody } from "./json-body.js";
import { registerServiceRoutes } from "./routes/service-routes.js";

export interface HttpGatewayDeps {
  readonly hub: Hub;
  readonly logger: Logger;
  readonly tls: { readonly certPem: string; readonly keyPem: string };
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
    https: { cert: deps.tls.certPem, key: deps.tls.keyPem },
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

  registerServiceRoutes(app, deps.hub);

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
  const { error, unexpected } = toHubError(thrown);
  if (unexpected) {
    deps.logger.error({ err: thrown, trackingId: request.trackingId, method: request.method, url: request.url.split("?")[0] }, "Unexpected error in an HTTPS request");
  }
  const response = renderHttpError(error, request.trackingId, deps.hub.clock.now());
  void reply.code(response.status).headers(response.headers).send(response.body);
}
