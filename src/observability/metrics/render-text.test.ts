import { test } from "node:test";
import assert from "node:assert/strict";
import { MetricRegistry } from "./metric-registry.js";
import { formatValue, renderPrometheusText } from "./render-text.js";

test("each family gets HELP and TYPE lines, then its samples, and the text ends with a line feed", () => {
  const registry = new MetricRegistry();
  registry.counter("iothub_sent_total", "Messages sent.").inc(3);
  registry.gauge("iothub_connected", "Connected devices.").set(2);
  assert.equal(
    renderPrometheusText(registry.snapshot()),
    "# HELP iothub_sent_total Messages sent.\n# TYPE iothub_sent_total counter\niothub_sent_total 3\n" +
      "# HELP iothub_connected Connected devices.\n# TYPE iothub_connected gauge\niothub_connected 2\n",
  );
});

test("an unlabelled metric shows 0 before anything happened; a labelled one shows no series yet", () => {
  const registry = new MetricRegistry();
  registry.counter("a_total", "A.");
  registry.counter("b_total", "B.", ["operation"]);
  assert.equal(renderPrometheusText(registry.snapshot()), "# HELP a_total A.\n# TYPE a_total counter\na_total 0\n# HELP b_total B.\n# TYPE b_total counter\n");
});

test("HELP escapes backslash and line feed; label values also escape the double quote", () => {
  const registry = new MetricRegistry();
  const counter = registry.counter("odd_total", "Back\\slash and\nnew line \"quoted\".", ["device"]);
  counter.inc(1, { device: 'a"b\\c\nd' });
  const text = renderPrometheusText(registry.snapshot());
  assert.match(text, /^# HELP odd_total Back\\\\slash and\\nnew line "quoted"\.$/m);
  assert.match(text, /^odd_total\{device="a\\"b\\\\c\\nd"\} 1$/m);
});

test("labels render in declaration order, one series per distinct set of values", () => {
  const registry = new MetricRegistry();
  const counter = registry.counter("ops_total", "Ops.", ["operation", "result"]);
  counter.inc(1, { result: "ok", operation: "read" });
  counter.inc(2, { operation: "read", result: "ok" });
  counter.inc(1, { operation: "update", result: "failed" });
  const lines = renderPrometheusText(registry.snapshot()).split("\n");
  assert.ok(lines.includes('ops_total{operation="read",result="ok"} 3'));
  assert.ok(lines.includes('ops_total{operation="update",result="failed"} 1'));
});

test("a histogram writes cumulative buckets up to +Inf, then _sum and _count", () => {
  const registry = new MetricRegistry();
  const histogram = registry.histogram("size_bytes", "Sizes.", [100, 1000]);
  for (const value of [50, 100, 500, 5000]) histogram.observe(value);
  assert.equal(
    renderPrometheusText(registry.snapshot()),
    "# HELP size_bytes Sizes.\n# TYPE size_bytes histogram\n" +
      'size_bytes_bucket{le="100"} 2\nsize_bytes_bucket{le="1000"} 3\nsize_bytes_bucket{le="+Inf"} 4\n' +
      "size_bytes_sum 5650\nsize_bytes_count 4\n",
  );
});

test("a labelled histogram keeps its labels before le", () => {
  const registry = new MetricRegistry();
  registry.histogram("d_seconds", "D.", [0.5], ["operation"]).observe(0.25, { operation: "read" });
  const text = renderPrometheusText(registry.snapshot());
  assert.match(text, /^d_seconds_bucket\{operation="read",le="0\.5"\} 1$/m);
  assert.match(text, /^d_seconds_sum\{operation="read"\} 0\.25$/m);
});

test("non-finite values use Prometheus' spellings", () => {
  assert.equal(formatValue(Number.NaN), "NaN");
  assert.equal(formatValue(Infinity), "+Inf");
  assert.equal(formatValue(-Infinity), "-Inf");
  assert.equal(formatValue(0.5), "0.5");
  assert.equal(formatValue(-3), "-3");
});

test("invalid names, labels and counter decrements are programming errors", () => {
  const registry = new MetricRegistry();
  assert.throws(() => registry.counter("bad-name", "x"), /Invalid metric name/);
  assert.throws(() => registry.counter("c_total", "x", ["__reserved"]), /invalid label name/);
  assert.throws(() => registry.histogram("h", "x", [1], ["le"]), /invalid label name/);
  assert.throws(() => registry.histogram("h2", "x", [2, 1]), /strictly increasing/);
  const counter = registry.counter("ok_total", "x", ["a"]);
  assert.throws(() => registry.counter("ok_total", "x"), /already registered/);
  assert.throws(() => counter.inc(-1, { a: "1" }), /only go up/);
  assert.throws(() => counter.inc(1, {}), /missing label "a"/);
  assert.throws(() => counter.inc(1, { a: "1", b: "2" }), /labels must be exactly a/);
});
