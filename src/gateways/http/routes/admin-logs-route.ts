import type { FastifyInstance, FastifyRequest } from "fastify";
import { HubError, requireAllRights, type CallContext, type Hub } from "../../../hub/index.js";
import { parseLogQuery, type ResourceLogQuery } from "../../../observability/resource-logs/log-query.js";
import type { ResourceLogRecord } from "../../../observability/resource-logs/render-record.js";

/** Reads the hub's resource logs (the composition root hands the ResourceLogs query in). */
export type ResourceLogSearch = (query: ResourceLogQuery) => Promise<readonly ResourceLogRecord[]>;

/**
 * `GET /admin/logs?category=&deviceId=&since=&limit=`: the hub's Azure Monitor resource logs, newest `limit` matches
 * oldest first, for `malachite logs` and scripts. The body is `{"records": […]}`, the shape Azure Monitor streams
 * to Event Hubs (monitoring.md §3.3), so tools that read an export read this too. Not an IoT Hub API; resource logs
 * show every device's traffic, so only a policy holding every right may read them.
 */
export function registerAdminLogsRoute(app: FastifyInstance, hub: Hub, context: (request: FastifyRequest) => CallContext, search: ResourceLogSearch): void {
  app.get("/admin/logs", async (request) => {
    const ctx = context(request);
    requireAllRights(ctx);
    const parsed = parseLogQuery(request.query as Record<string, unknown>, hub.clock.now());
    if (!parsed.ok) throw new HubError("ArgumentInvalid", { trackingId: ctx.trackingId, message: parsed.message });
    return { records: await search(parsed.query) };
  });
}
