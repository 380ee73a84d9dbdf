import type { Hub } from "../../hub/index.js";
import { HubMetrics } from "./hub-metrics.js";
import { createMetricsServer } from "./metrics-server.js";

export { HubMetrics, type HubMetricsSources } from "./hub-metrics.js";
export { createMetricsServer, type MetricsServer, type MetricsServerDeps } from "./metrics-server.js";
export { renderPrometheusText, PROMETHEUS_CONTENT_TYPE } from "./render-text.js";
export { MetricRegistry, Counter, Gauge, Histogram, type MetricSnapshot, type Sample, type Labels } from "./metric-registry.js";

export interface HubMetricsEndpointDeps {
  readonly hub: Hub;
  /** Devices in the registry (the store's count, the number `GET /statistics/devices` reports). */
  readonly totalDeviceCount: () => Promise<number>;
  readonly reportError: (error: unknown) => void;
}

/**
 * The collector and its listener, for the composition root. The collector subscribes to the hub's events now, so
 * it must be created before the gateways accept traffic; `listen` binds the port once the hub is otherwise ready.
 */
export function createHubMetricsEndpoint(deps: HubMetricsEndpointDeps): { metrics: HubMetrics; listen(bind: string, port: number): Promise<number>; close(): Promise<void> } {
  const metrics = new HubMetrics({
    events: deps.hub.events,
    clock: deps.hub.clock,
    connectedDeviceCount: () => deps.hub.presence.connectedCount,
    totalDeviceCount: deps.totalDeviceCount,
    // The quota's own count, so the metric and 403002 IotHubQuotaExceeded always agree on what today has used.
    dailyMessages: deps.hub.limits.dailyMessages,
  });
  const server = createMetricsServer({ scrape: () => metrics.scrape(), reportError: deps.reportError });
  return { metrics, listen: (bind, port) => server.listen(bind, port), close: () => server.close() };
}
