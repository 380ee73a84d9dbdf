import type { FastifyInstance, FastifyRequest } from "fastify";
import { HubError, type Hub } from "../../../hub/index.js";
import type { DeviceCall } from "../device-credentials.js";
import { parseJsonBody } from "../json-body.js";

type Params = { id: string; correlationId?: string };

/** The request body as a JSON object; anything else is 400006, like a body that is not JSON at all. */
function jsonObject(body: unknown): Record<string, unknown> {
  const parsed = Buffer.isBuffer(body) ? parseJsonBody(body) : body;
  if (parsed === undefined) return {};
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new HubError("IotHubFormatError", { message: "The request body must be a JSON object" });
  }
  return parsed as Record<string, unknown>;
}

/** A member of a request body, its name matched case-insensitively as IoT Hub (.NET) reads JSON. */
function member(body: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(body, name)) return body[name];
  const lower = name.toLowerCase();
  const key = Object.keys(body).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : body[key];
}

/**
 * File upload over HTTPS (device-protocol.md §4.4), registered inside the device API's scope, so every request is
 * already authenticated as the device its path names and its body is a Buffer:
 * - `POST /devices/{id}/files` `{"blobName"}` → 200 `{correlationId, hostName, containerName, blobName, sasToken}`;
 * - `POST /devices/{id}/files/notifications/{correlationId}` `{isSuccess, statusCode, statusDescription}` → 204
 *   (what azure-iot-device sends);
 * - `POST /devices/{id}/files/notifications` with `correlationId` in the body → 204 (IoT Hub's REST reference and
 *   the C and .NET SDKs).
 */
export function registerDeviceFileRoutes(scope: FastifyInstance, hub: Hub, call: (request: FastifyRequest) => DeviceCall): void {
  scope.post("/devices/:id/files", async (request, reply) => {
    const body = jsonObject(request.body);
    const sas = await hub.fileUploads.createSasUri(call(request).ctx, { deviceId: (request.params as Params).id, blobName: member(body, "blobName") });
    return reply.code(200).type("application/json; charset=utf-8").send(JSON.stringify(sas));
  });

  const notify = async (request: FastifyRequest, correlationId: unknown): Promise<void> => {
    const body = jsonObject(request.body);
    await hub.fileUploads.notify(call(request).ctx, {
      deviceId: (request.params as Params).id,
      correlationId,
      isSuccess: member(body, "isSuccess"),
      statusCode: member(body, "statusCode"),
      statusDescription: member(body, "statusDescription"),
    });
  };
  scope.post("/devices/:id/files/notifications", async (request, reply) => {
    await notify(request, member(jsonObject(request.body), "correlationId"));
    return reply.code(204).send();
  });
  scope.post("/devices/:id/files/notifications/:correlationId", async (request, reply) => {
    await notify(request, (request.params as Params).correlationId);
    return reply.code(204).send();
  });
}
