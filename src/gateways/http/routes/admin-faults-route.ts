import type { FastifyInstance, FastifyRequest } from "fastify";
import type { CallContext, Hub } from "../../../hub/index.js";

/**
 * Fault injection rules (issue #6, decision 0012): `POST /admin/faults` adds one (201 with the rule and its id),
 * `GET /admin/faults` lists them as `{"rules": […]}`, `DELETE /admin/faults/{id}` removes one (204, or 404). Not an
 * IoT Hub API; faults change how the whole hub answers, so the core allows only a policy holding every right.
 */
export function registerAdminFaultsRoute(app: FastifyInstance, hub: Hub, context: (request: FastifyRequest) => CallContext): void {
  // Both answer once the store holds the change (decision 0013): an acknowledged rule survives a restart.
  app.post("/admin/faults", async (request, reply) => reply.code(201).send(await hub.faults.add(context(request), request.body)));
  app.get("/admin/faults", async (request) => ({ rules: hub.faults.list(context(request)) }));
  app.delete("/admin/faults/:id", async (request, reply) => {
    await hub.faults.remove(context(request), (request.params as { id: string }).id);
    return reply.code(204).send();
  });
}
