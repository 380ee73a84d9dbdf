import type { Labels, MetricSnapshot } from "./metric-registry.js";

/** The Content-Type of the Prometheus text exposition format this renderer writes. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

// The text format's escaping rules differ by position: HELP text escapes backslash and line feed only, label
// values also escape the double quote that would otherwise end them.
function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** Sample values as Prometheus parses them (Go's ParseFloat), with its spellings of the non-finite ones. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function formatLabels(labels: Labels): string {
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabelValue(value)}"`);
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

/**
 * Renders metric families in the Prometheus text exposition format, version 0.0.4: per family one `# HELP` and
 * one `# TYPE` line, then its samples, and a final line feed (Prometheus rejects a body whose last line is unterminated).
 */
export function renderPrometheusText(families: readonly MetricSnapshot[]): string {
  let text = "";
  for (const family of families) {
    text += `# HELP ${family.name} ${escapeHelp(family.help)}\n`;
    text += `# TYPE ${family.name} ${family.type}\n`;
    for (const sample of family.samples) text += `${sample.name}${formatLabels(sample.labels)} ${formatValue(sample.value)}\n`;
  }
  return text;
}
