import { DailyMessageCounter, THROTTLED_OPERATIONS, type Clock, type HubEvent } from "../../hub/index.js";
import { MetricRegistry, type Counter, type Gauge, type Histogram } from "./metric-registry.js";
import { renderPrometheusText } from "./render-text.js";

/** Where the hub metrics come from: the hub's event stream, and the gauges read at scrape time. */
export interface HubMetricsSources {
  readonly events: { on(listener: (event: HubEvent) => void): void };
  /** The hub clock: the daily quota's day is a hub-clock day, so `advanceClock` past midnight resets it. */
  readonly clock: Clock;
  /** Identities with a live MQTT/AMQP connection, as `GET /statistics/service` reports them. */
  readonly connectedDeviceCount: () => number;
  /** Devices in the registry, as `GET /statistics/devices` reports them. */
  readonly totalDeviceCount: () => Promise<number>;
  /**
   * The day's message count kept by the daily quota, which charges every metered operation (telemetry, twin, method,
   * file upload…) as IoT Hub does; the metric only reads it. Without one, the collector counts accepted telemetry
   * into a counter of its own.
   */
  readonly dailyMessages?: DailyMessageCounter;
}

// Byte buckets around IoT Hub's own boundaries: the 4 KB metering block, 64 KB (C2D), 128 KB (method payloads),
// 256 KB (D2C messages).
const SIZE_BUCKETS = [128, 512, 1024, 4096, 16384, 65536, 131072, 262144];
// Seconds; direct methods may wait up to 300 s for an answer.
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/**
 * IoT Hub's platform metrics (monitoring reference §4), kept from the hub's events and exposed in the Prometheus
 * text format. Names are the REST names in Prometheus style with an `iothub_` prefix: dots and camelCase become
 * snake_case, counters end in `_total`, sizes in `_bytes` (README, "Metrics", has the full table).
 *
 * Counters start at 0 when the hub starts, as Prometheus counters do; Azure's per-minute "Total" of a metric is
 * `increase(…[1m])` of its counter here.
 */
export class HubMetrics {
  readonly registry = new MetricRegistry();
  readonly #sources: HubMetricsSources;
  readonly #daily: DailyMessageCounter;
  /** Whether #daily is this collector's own, to be fed from telemetry events; a shared one is the quota's to feed. */
  readonly #countsDaily: boolean;

  readonly #connected: Gauge;
  readonly #totalDevices: Gauge;
  readonly #dailyQuotaUsed: Gauge;
  readonly #telemetryAttempts: Counter;
  readonly #telemetrySent: Counter;
  readonly #telemetryThrottled: Counter;
  readonly #throttlingErrors: Counter;
  readonly #c2dCompleted: Counter;
  readonly #c2dAbandoned: Counter;
  readonly #c2dRejected: Counter;
  readonly #c2dExpired: Counter;
  readonly #methodsSucceeded: Counter;
  readonly #methodsFailed: Counter;
  readonly #methodRequestSize: Histogram;
  readonly #methodResponseSize: Histogram;
  readonly #methodDuration: Histogram;
  readonly #deviceTwinReads: Counter;
  readonly #deviceTwinReadFailures: Counter;
  readonly #deviceTwinUpdates: Counter;
  readonly #deviceTwinUpdateFailures: Counter;
  readonly #deviceTwinReadSize: Histogram;
  readonly #deviceTwinUpdateSize: Histogram;
  readonly #deviceTwinDuration: Histogram;
  readonly #serviceTwinReads: Counter;
  readonly #serviceTwinReadFailures: Counter;
  readonly #serviceTwinReadSize: Histogram;
  readonly #serviceTwinUpdates: Counter;
  readonly #serviceTwinUpdateFailures: Counter;
  readonly #serviceTwinUpdateSize: Histogram;
  readonly #serviceTwinDuration: Histogram;
  readonly #queries: Counter;
  readonly #queryFailures: Counter;
  readonly #queryResultSize: Histogram;

  constructor(sources: HubMetricsSources) {
    this.#sources = sources;
    this.#daily = sources.dailyMessages ?? new DailyMessageCounter(sources.clock);
    this.#countsDaily = sources.dailyMessages === undefined;
    const r = this.registry;
    this.#connected = r.gauge("iothub_connected_device_count", "Connected devices (connectedDeviceCount): identities with a live MQTT or AMQP connection.");
    this.#totalDevices = r.gauge("iothub_total_device_count", "Total devices (totalDeviceCount): devices in the identity registry.");
    this.#dailyQuotaUsed = r.gauge(
      "iothub_daily_message_quota_used",
      "Total number of messages used (dailyMessageQuotaUsed): messages today in metering blocks (4 KB), reset at 00:00 UTC on the hub clock.",
    );
    this.#telemetryAttempts = r.counter("iothub_d2c_telemetry_ingress_all_protocol_total", "Telemetry message send attempts (d2c.telemetry.ingress.allProtocol).");
    this.#telemetrySent = r.counter("iothub_d2c_telemetry_ingress_success_total", "Telemetry messages sent (d2c.telemetry.ingress.success).");
    this.#telemetryThrottled = r.counter("iothub_d2c_telemetry_ingress_send_throttle_total", "Number of throttling errors (d2c.telemetry.ingress.sendThrottle): telemetry refused with 429001.");
    this.#throttlingErrors = r.counter(
      "iothub_throttling_errors_total",
      "Calls refused with 429001 ThrottlingException by the hub's throttles, by operation (no Azure metric: Azure counts only telemetry, in sendThrottle; the other throttles show in resource logs' 429001 records).",
      ["operation"],
    );
    // Every throttled operation's series from the start, so increase() sees its first refusal.
    for (const operation of THROTTLED_OPERATIONS) this.#throttlingErrors.inc(0, { operation });
    // No routing yet: every accepted message reaches the built-in endpoint, so nothing is dropped. Exposed at 0 so
    // Microsoft's baseline alert on it (Total > 0) can be set up against the emulator unchanged.
    r.counter("iothub_d2c_telemetry_egress_dropped_total", "Routing: telemetry messages dropped (d2c.telemetry.egress.dropped).");
    this.#c2dCompleted = r.counter("iothub_c2d_commands_egress_complete_success_total", "C2D message deliveries completed (c2d.commands.egress.complete.success).");
    this.#c2dAbandoned = r.counter("iothub_c2d_commands_egress_abandon_success_total", "C2D messages abandoned (c2d.commands.egress.abandon.success).");
    this.#c2dRejected = r.counter("iothub_c2d_commands_egress_reject_success_total", "C2D messages rejected (c2d.commands.egress.reject.success).");
    this.#c2dExpired = r.counter("iothub_c2d_messages_expired_total", "C2D Messages Expired (C2DMessagesExpired).");
    this.#methodsSucceeded = r.counter("iothub_c2d_methods_success_total", "Successful direct method invocations (c2d.methods.success).");
    this.#methodsFailed = r.counter("iothub_c2d_methods_failure_total", "Failed direct method invocations (c2d.methods.failure): device not online or no answer in time.");
    this.#methodRequestSize = r.histogram("iothub_c2d_methods_request_size_bytes", "Request size of direct method invocations (c2d.methods.requestSize).", SIZE_BUCKETS);
    this.#methodResponseSize = r.histogram("iothub_c2d_methods_response_size_bytes", "Response size of direct method invocations (c2d.methods.responseSize).", SIZE_BUCKETS);
    this.#methodDuration = r.histogram(
      "iothub_c2d_methods_duration_seconds",
      "Time from a direct method invocation to its outcome (no Azure metric; the DirectMethods log's durationMs).",
      LATENCY_BUCKETS,
    );
    this.#deviceTwinReads = r.counter("iothub_d2c_twin_read_success_total", "Successful twin reads from devices (d2c.twin.read.success).");
    this.#deviceTwinReadFailures = r.counter("iothub_d2c_twin_read_failure_total", "Failed twin reads from devices (d2c.twin.read.failure).");
    this.#deviceTwinUpdates = r.counter("iothub_d2c_twin_update_success_total", "Successful twin updates from devices (d2c.twin.update.success).");
    this.#deviceTwinUpdateFailures = r.counter("iothub_d2c_twin_update_failure_total", "Failed twin updates from devices (d2c.twin.update.failure).");
    this.#deviceTwinReadSize = r.histogram("iothub_d2c_twin_read_size_bytes", "Response size of twin reads from devices (d2c.twin.read.size).", SIZE_BUCKETS);
    this.#deviceTwinUpdateSize = r.histogram("iothub_d2c_twin_update_size_bytes", "Size of twin updates from devices (d2c.twin.update.size).", SIZE_BUCKETS);
    this.#deviceTwinDuration = r.histogram(
      "iothub_d2c_twin_duration_seconds",
      "Duration of device twin operations by operation, read or update (no Azure metric; the D2CTwinOperations log's durationMs).",
      LATENCY_BUCKETS,
      ["operation"],
    );
    this.#serviceTwinReads = r.counter("iothub_c2d_twin_read_success_total", "Successful twin reads from back end (c2d.twin.read.success).");
    this.#serviceTwinReadFailures = r.counter("iothub_c2d_twin_read_failure_total", "Failed twin reads from back end (c2d.twin.read.failure).");
    this.#serviceTwinReadSize = r.histogram("iothub_c2d_twin_read_size_bytes", "Response size of twin reads from back end (c2d.twin.read.size).", SIZE_BUCKETS);
    this.#serviceTwinUpdates = r.counter("iothub_c2d_twin_update_success_total", "Successful twin updates from back end (c2d.twin.update.success).");
    this.#serviceTwinUpdateFailures = r.counter("iothub_c2d_twin_update_failure_total", "Failed twin updates from back end (c2d.twin.update.failure).");
    this.#serviceTwinUpdateSize = r.histogram("iothub_c2d_twin_update_size_bytes", "Size of twin updates from back end (c2d.twin.update.size).", SIZE_BUCKETS);
    this.#serviceTwinDuration = r.histogram(
      "iothub_c2d_twin_duration_seconds",
      "Duration of back-end twin operations by operation, read or update (no Azure metric; the C2DTwinOperations log's durationMs).",
      LATENCY_BUCKETS,
      ["operation"],
    );
    this.#queries = r.counter("iothub_twin_queries_success_total", "Successful twin queries (twinQueries.success), one per page.");
    this.#queryFailures = r.counter("iothub_twin_queries_failure_total", "Failed twin queries (twinQueries.failure).");
    this.#queryResultSize = r.histogram("iothub_twin_queries_result_size_bytes", "Twin queries result size (twinQueries.resultSize).", SIZE_BUCKETS);
    sources.events.on((event) => this.#record(event));
  }

  /** Reads the gauges and renders every metric in the Prometheus text format. */
  async scrape(): Promise<string> {
    this.#connected.set(this.#sources.connectedDeviceCount());
    this.#totalDevices.set(await this.#sources.totalDeviceCount());
    this.#dailyQuotaUsed.set(this.#daily.used(this.#sources.clock.now()));
    return renderPrometheusText(this.registry.snapshot());
  }

  #record(event: HubEvent): void {
    switch (event.type) {
      case "telemetryAccepted":
        this.#telemetryAttempts.inc();
        this.#telemetrySent.inc();
        if (this.#countsDaily) this.#daily.countMessage(event.sizeInBytes, event.time);
        return;
      case "telemetryRefused":
        this.#telemetryAttempts.inc();
        // Only 429001 counts as a throttling error; the other 429xxx codes show in logs but in no metric (§4).
        if (event.error === "ThrottlingException") this.#telemetryThrottled.inc();
        return;
      case "operationThrottled":
        this.#throttlingErrors.inc(1, { operation: event.operation });
        return;
      case "twinOperation": {
        // notifyDesired is the hub pushing a desired patch: no platform metric counts it.
        if (event.operation === "notifyDesired") return;
        const read = event.operation === "get";
        if (event.error === undefined) {
          (read ? this.#deviceTwinReads : this.#deviceTwinUpdates).inc();
          if (event.messageSize !== undefined) (read ? this.#deviceTwinReadSize : this.#deviceTwinUpdateSize).observe(event.messageSize);
        } else {
          (read ? this.#deviceTwinReadFailures : this.#deviceTwinUpdateFailures).inc();
        }
        if (event.durationMs !== undefined) this.#deviceTwinDuration.observe(event.durationMs / 1000, { operation: read ? "read" : "update" });
        return;
      }
      case "serviceTwinOperation": {
        // Tags and desired properties, patched or replaced, are all "updates from back end".
        const read = event.operation === "get";
        if (event.error === undefined) {
          (read ? this.#serviceTwinReads : this.#serviceTwinUpdates).inc();
          (read ? this.#serviceTwinReadSize : this.#serviceTwinUpdateSize).observe(event.messageSize);
        } else {
          (read ? this.#serviceTwinReadFailures : this.#serviceTwinUpdateFailures).inc();
        }
        this.#serviceTwinDuration.observe(event.durationMs / 1000, { operation: read ? "read" : "update" });
        return;
      }
      case "twinQuery":
        if (event.error === undefined) {
          this.#queries.inc();
          this.#queryResultSize.observe(event.resultSize);
        } else {
          this.#queryFailures.inc();
        }
        return;
      case "methodInvoked":
        // Success means the device answered, whatever status it answered with; failure is 404103 or 504101.
        if (event.outcome === "answered") this.#methodsSucceeded.inc();
        else this.#methodsFailed.inc();
        if (event.requestSize !== undefined) this.#methodRequestSize.observe(event.requestSize);
        // An unanswered invocation has no response to measure.
        if (event.outcome === "answered" && event.responseSize !== undefined) this.#methodResponseSize.observe(event.responseSize);
        this.#methodDuration.observe(event.durationMs / 1000);
        return;
      case "c2dSettled":
        if (event.outcome === "complete") this.#c2dCompleted.inc();
        else if (event.outcome === "abandon") this.#c2dAbandoned.inc();
        else this.#c2dRejected.inc();
        return;
      case "c2dDeadLettered":
        // A message that ran out of deliveries is dead-lettered too, but only an expired one is "expired".
        if (event.reason === "Expired") this.#c2dExpired.inc();
        return;
      default:
        // Connection, identity, file upload and other events feed resource logs, not platform metrics.
        return;
    }
  }
}
