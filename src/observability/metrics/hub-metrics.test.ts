import { test } from "node:test";
import assert from "node:assert/strict";
import { HubEvents } from "../../hub/events/hub-event.js";
import { DailyMessageCounter } from "../../hub/limits/daily-message-counter.js";
import { HubMetrics } from "./hub-metrics.js";

const MIDNIGHT = Date.UTC(2026, 2, 4);

function setup(counts: { connected?: number; total?: number } = {}) {
  let now = MIDNIGHT + 9 * 3600_000;
  const events = new HubEvents((error) => {
    throw error;
  });
  const metrics = new HubMetrics({
    events,
    clock: { now: () => now },
    connectedDeviceCount: () => counts.connected ?? 0,
    totalDeviceCount: async () => counts.total ?? 0,
  });
  return {
    events,
    metrics,
    time: () => now,
    advance: (ms: number) => void (now += ms),
    /** The value of one sample line, e.g. `iothub_c2d_methods_success_total` or `x_bucket{le="+Inf"}`. */
    async value(sample: string): Promise<number | undefined> {
      const text = await metrics.scrape();
      const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
      return line === undefined ? undefined : Number(line.slice(sample.length + 1));
    },
  };
}

const DEVICE = { deviceId: "press-07", moduleId: "" };

test("before anything happens every unlabelled metric is exposed at 0, with HELP and TYPE", async () => {
  const h = setup();
  const text = await h.metrics.scrape();
  for (const name of [
    "iothub_connected_device_count",
    "iothub_total_device_count",
    "iothub_daily_message_quota_used",
    "iothub_d2c_telemetry_ingress_all_protocol_total",
    "iothub_d2c_telemetry_ingress_success_total",
    "iothub_d2c_telemetry_ingress_send_throttle_total",
    "iothub_d2c_telemetry_egress_dropped_total",
    "iothub_c2d_commands_egress_complete_success_total",
    "iothub_c2d_messages_expired_total",
    "iothub_c2d_methods_failure_total",
  ]) {
    assert.match(text, new RegExp(`^# TYPE ${name} (counter|gauge)$`, "m"));
    assert.match(text, new RegExp(`^${name} 0$`, "m"));
  }
  assert.match(text, /^# TYPE iothub_c2d_methods_request_size_bytes histogram$/m);
  assert.match(text, /^iothub_c2d_methods_request_size_bytes_count 0$/m);
});

test("gauges are read at scrape time: connected and registered devices", async () => {
  const counts = { connected: 2, total: 5 };
  const h = setup(counts);
  assert.equal(await h.value("iothub_connected_device_count"), 2);
  assert.equal(await h.value("iothub_total_device_count"), 5);
  counts.connected = 1;
  assert.equal(await h.value("iothub_connected_device_count"), 1);
});

test("telemetry: attempts count accepted and refused messages, throttling only 429001, the quota in 4 KB blocks", async () => {
  const h = setup();
  h.events.emit({ type: "telemetryAccepted", time: h.time(), ...DEVICE, partition: 0, sizeInBytes: 100 });
  h.events.emit({ type: "telemetryAccepted", time: h.time(), ...DEVICE, partition: 0, sizeInBytes: 9000 });
  h.events.emit({ type: "telemetryRefused", time: h.time(), ...DEVICE, protocol: "mqtt", partition: 0, sizeInBytes: 300_000, error: "MessageTooLarge" });
  h.events.emit({ type: "telemetryRefused", time: h.time(), ...DEVICE, protocol: "mqtt", partition: 0, sizeInBytes: 10, error: "ThrottlingException" });
  assert.equal(await h.value("iothub_d2c_telemetry_ingress_all_protocol_total"), 4);
  assert.equal(await h.value("iothub_d2c_telemetry_ingress_success_total"), 2);
  assert.equal(await h.value("iothub_d2c_telemetry_ingress_send_throttle_total"), 1);
  assert.equal(await h.value("iothub_daily_message_quota_used"), 1 + 3);
  // 00:00 UTC on the hub clock: the quota starts again, the counters do not.
  h.advance(15 * 3600_000);
  assert.equal(await h.value("iothub_daily_message_quota_used"), 0);
  assert.equal(await h.value("iothub_d2c_telemetry_ingress_success_total"), 2);
});

test("throttling errors by operation: every throttled operation from 0, each 429001 refusal counted under its own", async () => {
  const h = setup();
  const text = await h.metrics.scrape();
  assert.match(text, /^# TYPE iothub_throttling_errors_total counter$/m);
  assert.match(text, /^# HELP iothub_throttling_errors_total .*no Azure metric/m);
  for (const operation of ["deviceConnect", "d2cSend", "c2dSend", "c2dReceive", "fileUploadStart", "methodInvoke", "twinRead", "twinUpdate", "query", "registryOp"]) {
    assert.equal(await h.value(`iothub_throttling_errors_total{operation="${operation}"}`), 0, operation);
  }
  // Operations with no throttle (quota-only) have no series.
  assert.doesNotMatch(text, /operation="(c2dPurge|fileUploadComplete)"/);
  h.events.emit({ type: "operationThrottled", time: h.time(), operation: "query", protocol: "https" });
  h.events.emit({ type: "operationThrottled", time: h.time(), operation: "query", protocol: "https" });
  h.events.emit({ type: "operationThrottled", time: h.time(), operation: "d2cSend", protocol: "mqtt", ...DEVICE });
  assert.equal(await h.value('iothub_throttling_errors_total{operation="query"}'), 2);
  assert.equal(await h.value('iothub_throttling_errors_total{operation="d2cSend"}'), 1);
  assert.equal(await h.value('iothub_throttling_errors_total{operation="twinRead"}'), 0);
  // The telemetry metric is fed by the telemetry's own refusal event, not this one.
  assert.equal(await h.value("iothub_d2c_telemetry_ingress_send_throttle_total"), 0);
});

test("C2D: completions, abandons, rejections and expiries", async () => {
  const h = setup();
  const settled = (outcome: "complete" | "abandon" | "reject") =>
    h.events.emit({ type: "c2dSettled", time: h.time(), deviceId: "d", messageId: null, outcome, deliveryCount: 1, protocol: "mqtt" });
  settled("complete");
  settled("complete");
  settled("abandon");
  settled("reject");
  h.events.emit({ type: "c2dDeadLettered", time: h.time(), deviceId: "d", messageId: null, reason: "Expired", deliveryCount: 0 });
  h.events.emit({ type: "c2dDeadLettered", time: h.time(), deviceId: "d", messageId: null, reason: "DeliveryCountExceeded", deliveryCount: 10 });
  assert.equal(await h.value("iothub_c2d_commands_egress_complete_success_total"), 2);
  assert.equal(await h.value("iothub_c2d_commands_egress_abandon_success_total"), 1);
  assert.equal(await h.value("iothub_c2d_commands_egress_reject_success_total"), 1);
  assert.equal(await h.value("iothub_c2d_messages_expired_total"), 1);
});

test("direct methods: answered is success whatever the status, sizes and duration are distributions", async () => {
  const h = setup();
  h.events.emit({ type: "methodInvoked", time: h.time(), ...DEVICE, methodName: "reboot", outcome: "answered", durationMs: 40, requestSize: 17, responseSize: 42, sdkVersion: undefined });
  h.events.emit({ type: "methodInvoked", time: h.time(), ...DEVICE, methodName: "reboot", outcome: "DeviceNotOnline", durationMs: 0, requestSize: 17, responseSize: 0, sdkVersion: undefined });
  h.events.emit({ type: "methodInvoked", time: h.time(), ...DEVICE, methodName: "reboot", outcome: "GatewayTimeout", durationMs: 30_000, requestSize: 5000, responseSize: 0, sdkVersion: undefined });
  assert.equal(await h.value("iothub_c2d_methods_success_total"), 1);
  assert.equal(await h.value("iothub_c2d_methods_failure_total"), 2);
  assert.equal(await h.value("iothub_c2d_methods_request_size_bytes_count"), 3);
  assert.equal(await h.value("iothub_c2d_methods_request_size_bytes_sum"), 5034);
  assert.equal(await h.value('iothub_c2d_methods_request_size_bytes_bucket{le="128"}'), 2);
  // Only the answered call has a response.
  assert.equal(await h.value("iothub_c2d_methods_response_size_bytes_count"), 1);
  assert.equal(await h.value("iothub_c2d_methods_response_size_bytes_sum"), 42);
  assert.equal(await h.value("iothub_c2d_methods_duration_seconds_sum"), 30.04);
  assert.equal(await h.value('iothub_c2d_methods_duration_seconds_bucket{le="0.05"}'), 2);
  assert.equal(await h.value('iothub_c2d_methods_duration_seconds_bucket{le="+Inf"}'), 3);
});

test("twins: device reads and updates, back-end reads and updates with their sizes, failures apart", async () => {
  const h = setup();
  h.events.emit({ type: "twinOperation", time: h.time(), ...DEVICE, operation: "get", durationMs: 3, messageSize: 700 });
  h.events.emit({ type: "twinOperation", time: h.time(), ...DEVICE, operation: "get", durationMs: 1, error: "ThrottlingException" });
  h.events.emit({ type: "twinOperation", time: h.time(), ...DEVICE, operation: "updateReported", durationMs: 6, messageSize: 20 });
  h.events.emit({ type: "twinOperation", time: h.time(), ...DEVICE, operation: "updateReported", messageSize: 5000, error: "PreconditionFailed" });
  h.events.emit({ type: "twinOperation", time: h.time(), ...DEVICE, operation: "notifyDesired" });
  const service = (operation: "get" | "patch" | "replace", messageSize: number, error?: "DeviceNotFound") =>
    h.events.emit({ type: "serviceTwinOperation", time: h.time(), ...DEVICE, operation, durationMs: 4, messageSize, sdkVersion: "2021-04-12", ...(error === undefined ? {} : { error }) });
  service("get", 912);
  service("patch", 100);
  service("replace", 300);
  service("get", 0, "DeviceNotFound");
  assert.equal(await h.value("iothub_d2c_twin_read_success_total"), 1);
  assert.equal(await h.value("iothub_d2c_twin_read_failure_total"), 1);
  assert.equal(await h.value("iothub_d2c_twin_update_success_total"), 1);
  assert.equal(await h.value("iothub_d2c_twin_update_failure_total"), 1);
  // Device twin sizes: successes only, like the back end's.
  assert.equal(await h.value("iothub_d2c_twin_read_size_bytes_count"), 1);
  assert.equal(await h.value("iothub_d2c_twin_read_size_bytes_sum"), 700);
  assert.equal(await h.value('iothub_d2c_twin_read_size_bytes_bucket{le="512"}'), 0);
  assert.equal(await h.value('iothub_d2c_twin_read_size_bytes_bucket{le="1024"}'), 1);
  assert.equal(await h.value("iothub_d2c_twin_update_size_bytes_count"), 1);
  assert.equal(await h.value("iothub_d2c_twin_update_size_bytes_sum"), 20);
  assert.equal(await h.value('iothub_d2c_twin_duration_seconds_count{operation="update"}'), 1);
  assert.equal(await h.value("iothub_c2d_twin_read_success_total"), 1);
  assert.equal(await h.value("iothub_c2d_twin_read_failure_total"), 1);
  assert.equal(await h.value("iothub_c2d_twin_read_size_bytes_sum"), 912);
  assert.equal(await h.value("iothub_c2d_twin_update_success_total"), 2);
  assert.equal(await h.value("iothub_c2d_twin_update_size_bytes_sum"), 400);
  assert.equal(await h.value('iothub_c2d_twin_duration_seconds_count{operation="read"}'), 2);
});

test("twin queries: pages and their result sizes", async () => {
  const h = setup();
  h.events.emit({ type: "twinQuery", time: h.time(), query: "SELECT * FROM devices", durationMs: 2, messageSize: 30, pageSize: 100, continuation: false, resultSize: 4820, sdkVersion: undefined });
  h.events.emit({ type: "twinQuery", time: h.time(), query: "SELECT", durationMs: 1, messageSize: 6, pageSize: 100, continuation: false, resultSize: 0, sdkVersion: undefined, error: "ArgumentInvalid" });
  assert.equal(await h.value("iothub_twin_queries_success_total"), 1);
  assert.equal(await h.value("iothub_twin_queries_failure_total"), 1);
  assert.equal(await h.value("iothub_twin_queries_result_size_bytes_sum"), 4820);
});

test("a daily counter shared with the quota is only read: the quota charges it, not the telemetry events", async () => {
  const now = MIDNIGHT + 3600_000;
  const clock = { now: () => now };
  const shared = new DailyMessageCounter(clock);
  const events = new HubEvents((error) => {
    throw error;
  });
  const metrics = new HubMetrics({ events, clock, connectedDeviceCount: () => 0, totalDeviceCount: async () => 0, dailyMessages: shared });
  shared.add(7);
  events.emit({ type: "telemetryAccepted", time: now, ...DEVICE, partition: 0, sizeInBytes: 100 });
  assert.match(await metrics.scrape(), /^iothub_daily_message_quota_used 7$/m);
});
