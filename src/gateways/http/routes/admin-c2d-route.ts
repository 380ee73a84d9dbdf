import type { FastifyInstance, FastifyRequest } from "fastify";
import { HubError, type CallContext, type Hub } from "../../../hub/index.js";

const TEXT_FIELDS = ["messageId", "correlationId", "userId", "contentType", "contentEncoding", "ack"] as const;

function invalid(message: string): HubError {
  return new HubError("ArgumentInvalid", { message });
}

/**
 * `POST /admin/devices/{id}/messages/devicebound`: enqueue a cloud-to-device message without AMQP, for
 * `malachite c2d send` and scripts. Body: `{"body": "<text>", "bodyEncoding"?: "utf8" | "base64", "properties"?:
 * {…}, "messageId"?, "correlationId"?, "userId"?, "contentType"?, "contentEncoding"?, "ack"?, "ttlSeconds"?}`.
 * Not an IoT Hub API (IoT Hub takes C2D only over AMQP); it runs the same queue, rules and errors.
 */
export function registerAdminC2dRoute(app: FastifyInstance, hub: Hub, context: (request: FastifyRequest) => CallContext): void {
  app.post("/admin/devices/:id/messages/devicebound", async (request, reply) => {
    const ctx = context(request);
    const input = request.body;
    if (typeof input !== "object" || input === null || Array.isArray(input)) throw invalid('The body must be {"body": "<text>", …}');
    const fields = input as Record<string, unknown>;
    const text = fields["body"] ?? "";
    if (typeof text !== "string") throw invalid("'body' must be a string");
    const encoding = fields["bodyEncoding"] ?? "utf8";
    if (encoding !== "utf8" && encoding !== "base64") throw invalid("'bodyEncoding' must be 'utf8' or 'base64'");
    const properties = fields["properties"] ?? {};
    if (typeof properties !== "object" || properties === null || Object.values(properties).some((v) => typeof v !== "string")) {
      throw invalid("'properties' must be an object of string values");
    }
    const system: Record<string, string> = {};
    for (const name of TEXT_FIELDS) {
      const value = fields[name];
      if (value === undefined) continue;
      if (typeof value !== "string") throw invalid(`'${name}' must be a string`);
      system[name] = value;
    }
    const ttl = fields["ttlSeconds"];
    if (ttl !== undefined && (typeof ttl !== "number" || !Number.isFinite(ttl) || ttl <= 0)) throw invalid("'ttlSeconds' must be a positive number");
    const message = await hub.c2d.send(ctx, {
      deviceId: (request.params as { id: string }).id,
      body: Buffer.from(text, encoding),
      properties: properties as Record<string, string>,
      systemProperties: system,
      ...(ttl === undefined ? {} : { expiryTimeUtc: hub.clock.now() + (ttl as number) * 1000 }),
    });
    return reply.code(201).send({ messageId: message.systemProperties.messageId ?? null, expiryTimeUtc: new Date(message.expiryTime).toISOString() });
  });
}
