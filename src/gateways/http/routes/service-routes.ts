import type { FastifyInstance, FastifyRequest } from "fastify";
import type { CallContext, Hub } from "../../../hub/index.js";
import { checkApiVersion } from "../api-version.js";
import { registerAdminC2dRoute } from "./admin-c2d-route.js";
import { registerAdminConsumerGroupsRoute } from "./admin-consumer-groups-route.js";
import { registerAdminFaultsRoute } from "./admin-faults-route.js";
import { registerAdminLogsRoute, type ResourceLogSearch } from "./admin-logs-route.js";

type Params = { id: string; mid?: string };

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The service REST API that azure-iothub's Registry uses (service-protocol §3.3). */
export function registerServiceRoutes(app: FastifyInstance, hub: Hub, options: { readonly resourceLogs?: ResourceLogSearch | undefined } = {}): void {
  /** Checks api-version and the policy token of a service call, and makes its call context. */
  const context = (request: FastifyRequest): CallContext => {
    const apiVersion = (request.query as Record<string, unknown>)["api-version"];
    checkApiVersion(apiVersion);
    const caller = hub.serviceAuth.authenticate(header(request, "authorization"), request.trackingId);
    // Service-side resource logs carry the api-version as sdkVersion (monitoring.md §2.8) and the caller's masked IP.
    const client = { ipAddress: request.ip, sdkVersion: typeof apiVersion === "string" ? apiVersion : undefined };
    return { caller, protocol: "https", trackingId: request.trackingId, client };
  };
  const ids = (request: FastifyRequest): Params => request.params as Params;
  const ifMatch = (request: FastifyRequest): string | undefined => header(request, "if-match");

  // Identity registry: devices.
  app.get("/devices", async (request) => {
    const top = (request.query as Record<string, unknown>)["top"];
    return hub.registry.list(context(request), top === undefined ? undefined : Number(top));
  });
  app.post("/devices", async (request, reply) => {
    const result = await hub.registry.bulk(context(request), request.body);
    // The swagger answers a bulk request in which any record failed with 400 and the same result shape.
    return reply.code(result.isSuccessful ? 200 : 400).send(result);
  });
  app.get("/devices/:id", async (request) => hub.registry.get(context(request), ids(request).id));
  app.put("/devices/:id", async (request) =>
    hub.registry.put(context(request), { deviceId: ids(request).id, body: request.body, ifMatch: ifMatch(request) }),
  );
  app.delete("/devices/:id", async (request, reply) => {
    await hub.registry.delete(context(request), { deviceId: ids(request).id, ifMatch: ifMatch(request) });
    return reply.code(204).send();
  });

  // Identity registry: modules.
  app.get("/devices/:id/modules", async (request) => hub.registry.listModules(context(request), ids(request).id));
  app.get("/devices/:id/modules/:mid", async (request) => hub.registry.get(context(request), ids(request).id, ids(request).mid));
  app.put("/devices/:id/modules/:mid", async (request) => {
    const { id, mid } = ids(request);
    return hub.registry.put(context(request), { deviceId: id, moduleId: mid!, body: request.body, ifMatch: ifMatch(request) });
  });
  app.delete("/devices/:id/modules/:mid", async (request, reply) => {
    const { id, mid } = ids(request);
    await hub.registry.delete(context(request), { deviceId: id, moduleId: mid!, ifMatch: ifMatch(request) });
    return reply.code(204).send();
  });

  // Twins.
  app.get("/twins/:id", async (request) => hub.twins.get(context(request), ids(request).id));
  app.get("/twins/:id/modules/:mid", async (request) => hub.twins.get(context(request), ids(request).id, ids(request).mid));
  for (const path of ["/twins/:id", "/twins/:id/modules/:mid"]) {
    app.patch(path, async (request) => {
      const { id, mid } = ids(request);
      return hub.twins.patch(context(request), { deviceId: id, ...(mid === undefined ? {} : { moduleId: mid }), body: request.body, ifMatch: ifMatch(request) });
    });
    app.put(path, async (request) => {
      const { id, mid } = ids(request);
      return hub.twins.replace(context(request), { deviceId: id, ...(mid === undefined ? {} : { moduleId: mid }), body: request.body, ifMatch: ifMatch(request) });
    });
  }

  // Cloud-to-device queue purge (IoT Hub's reply: {totalMessagesPurged, deviceId, moduleId}).
  app.delete("/devices/:id/commands", async (request) => hub.c2d.purge(context(request), ids(request).id));

  registerAdminC2dRoute(app, hub, context);
  registerAdminConsumerGroupsRoute(app, hub, context);
  registerAdminFaultsRoute(app, hub, context);
  if (options.resourceLogs !== undefined) registerAdminLogsRoute(app, hub, context, options.resourceLogs);
  app.get("/admin/clock", async (request) => hub.clockAdmin.status(context(request)));
  // Answers once the new offset is stored (decision 0013).
  app.post("/admin/clock", async (request) => await hub.clockAdmin.advance(context(request), request.body));

  // Direct methods.
  for (const path of ["/twins/:id/methods", "/twins/:id/modules/:mid/methods"]) {
    app.post(path, async (request) => {
      const { id, mid } = ids(request);
      return hub.methods.invoke(context(request), { deviceId: id, ...(mid === undefined ? {} : { moduleId: mid }), body: request.body });
    });
  }

  // Query.
  app.post("/devices/query", async (request, reply) => {
    const page = await hub.query.query(context(request), {
      body: request.body,
      maxItemCount: header(request, "x-ms-max-item-count"),
      continuation: header(request, "x-ms-continuation"),
    });
    void reply.header("x-ms-item-type", page.itemType);
    if (page.continuation !== undefined) void reply.header("x-ms-continuation", page.continuation);
    return page.items;
  });

  // Statistics.
  app.get("/statistics/devices", async (request) => hub.registry.deviceStatistics(context(request)));
  app.get("/statistics/service", async (request) => hub.registry.serviceStatistics(context(request)));
}
