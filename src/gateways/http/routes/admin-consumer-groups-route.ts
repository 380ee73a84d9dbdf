import type { FastifyInstance, FastifyRequest } from "fastify";
import type { CallContext, Hub } from "../../../hub/index.js";

/**
 * `GET /admin/consumer-groups`, `PUT|DELETE /admin/consumer-groups/{name}`: the consumer groups of the built-in
 * Event Hub-compatible endpoint, for `malachite consumer-group` and scripts. Not an IoT Hub data-plane API: Azure
 * manages them through ARM (`az iot hub consumer-group create`), whose PUT answers the group and DELETE answers
 * nothing; the same rules and errors apply here, for a policy holding every right.
 */
export function registerAdminConsumerGroupsRoute(app: FastifyInstance, hub: Hub, context: (request: FastifyRequest) => CallContext): void {
  const name = (request: FastifyRequest): string => (request.params as { name: string }).name;
  app.get("/admin/consumer-groups", async (request) => ({ consumerGroups: await hub.eventHub.consumerGroups.list(context(request)) }));
  app.put("/admin/consumer-groups/:name", async (request) => ({ name: await hub.eventHub.consumerGroups.add(context(request), name(request)) }));
  app.delete("/admin/consumer-groups/:name", async (request, reply) => {
    await hub.eventHub.consumerGroups.remove(context(request), name(request));
    return reply.code(204).send();
  });
}
