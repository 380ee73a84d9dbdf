import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Hub } from "../../../hub/index.js";
import type { Logger } from "../../../observability/logger.js";
import { checkApiVersion } from "../api-version.js";
import { authenticateDeviceRequest, type DeviceCall } from "../device-credentials.js";
import { isBatch, parseTelemetryBatch } from "../device-batch.js";
import { c2dResponseHeaders, headerPairs, telemetryProperties } from "../device-message-headers.js";
import { registerDeviceFileRoutes } from "./device-files.js";

type Params = { id: string; mid?: string; lockToken?: string };

// Learn, IoT Hub quotas: a device-to-cloud message is at most 256 KB, and so is a batch. Larger request bodies are
// refused with 413 MessageTooLarge while they are read; the core applies the exact limit (body plus properties).
const MAX_REQUEST_BODY = 256 * 1024;

// IoT Hub's REST reference spells it `deviceBound`, the SDKs send `devicebound`; the router is case-sensitive.
const C2D_SEGMENTS = ["devicebound", "deviceBound"] as const;

/** A lock token as given in the path: the SDK sends it bare; a client that copied the quoted ETag is understood too. */
function lockTokenOf(request: FastifyRequest): string {
  const token = (request.params as Params).lockToken ?? "";
  return token.length >= 2 && token.startsWith('"') && token.endsWith('"') ? token.slice(1, -1) : token;
}

/**
 * The device-facing HTTPS API of `azure-iot-device-http` (device-protocol.md §4.1-4.3): telemetry, single and batch,
 * for devices and modules, and cloud-to-device polling with complete / reject / abandon. Registered in its own
 * encapsulated scope: telemetry bodies are bytes of any content type, so this scope reads every body as a Buffer while
 * the service API keeps its JSON-only parsing. Every request is authenticated as the identity its path names before
 * its body is read.
 */
export function registerDeviceRoutes(app: FastifyInstance, hub: Hub, logger: Logger): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: MAX_REQUEST_BODY }, (_request, body, done) => done(null, body));

    const calls = new WeakMap<FastifyRequest, DeviceCall>();
    scope.addHook("onRequest", async (request) => {
      checkApiVersion((request.query as Record<string, unknown>)["api-version"]);
      const { id, mid } = request.params as Params;
      calls.set(request, await authenticateDeviceRequest(hub, request, { deviceId: id, moduleId: mid ?? "" }));
    });
    const call = (request: FastifyRequest): DeviceCall => calls.get(request)!;

    // Telemetry: 204 once every message of the request is durable in the telemetry log.
    const telemetry = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const { ctx, credential } = call(request);
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      if (isBatch(request.headers["content-type"])) {
        // All parsed before any is sent, so a malformed batch stores nothing. Each message is within the limit, since
        // the whole batch is; the appends start in batch order.
        const messages = parseTelemetryBatch(body);
        await Promise.all(messages.map((message) => hub.telemetry.send(ctx, message, credential)));
      } else {
        const { properties, systemProperties } = telemetryProperties(headerPairs(request.raw.rawHeaders));
        await hub.telemetry.send(ctx, { body, properties, systemProperties }, credential);
      }
      return reply.code(204).send();
    };
    scope.post("/devices/:id/messages/events", telemetry);
    scope.post("/devices/:id/modules/:mid/messages/events", telemetry);

    for (const segment of C2D_SEGMENTS) {
      // Receive: 204 when nothing is waiting; else the message, locked for one minute under the lock token in its ETag.
      // No automatic HEAD route: a HEAD must not lock a message.
      scope.get(`/devices/:id/messages/${segment}`, { exposeHeadRoute: false }, async (request, reply) => {
        const { ctx } = call(request);
        const message = await hub.c2d.receive(ctx, { deviceId: (request.params as Params).id });
        if (message === undefined || message.lockToken === null) return reply.code(204).send();
        const { headers, skipped } = c2dResponseHeaders(message);
        if (skipped.length > 0) {
          logger.warn({ trackingId: request.trackingId, deviceId: message.deviceId, properties: skipped }, "C2D application properties that cannot be HTTP headers were left out");
        }
        // Set on the raw response, so the names keep IoT Hub's case (fastify lower-cases its own).
        for (const [name, value] of Object.entries(headers)) reply.raw.setHeader(name, value);
        return reply.code(200).type("application/octet-stream").send(message.body);
      });
      // Complete (DELETE) or, with the `reject` query flag, reject.
      scope.delete(`/devices/:id/messages/${segment}/:lockToken`, async (request, reply) => {
        const { ctx } = call(request);
        const query = request.query as Record<string, unknown>;
        const reject = Object.hasOwn(query, "reject") && String(query["reject"]).toLowerCase() !== "false";
        await (reject ? hub.c2d.reject(ctx, lockTokenOf(request)) : hub.c2d.complete(ctx, lockTokenOf(request)));
        return reply.code(204).send();
      });
      scope.post(`/devices/:id/messages/${segment}/:lockToken/abandon`, async (request, reply) => {
        await hub.c2d.abandon(call(request).ctx, lockTokenOf(request));
        return reply.code(204).send();
      });
    }

    // File upload: SAS URIs and completion notifications (device-files.ts).
    registerDeviceFileRoutes(scope, hub, call);
  });
}
