/**
 * How the benchmarks print their results: numbers in cells (`int`, `ms`, `ratio`, `pct`, `verdict`, `noiseText`) and
 * the table itself (`formatTable`).
 */
import type { Noise } from "./harness.js";

/** A whole number with thousands separators; "–" if there is none. */
export const int = (n: number | undefined): string => (n !== undefined && Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–");

/** Milliseconds with 3 significant digits or so; "–" if there are none. */
export const ms = (n: number | undefined): string =>
  n === undefined || !Number.isFinite(n) ? "–" : n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);

/** `a ÷ b` as `0.52×`; `otherwise` when either is missing or b is 0. */
export const ratio = (a: number | undefined, b: number | undefined, otherwise = "–"): string =>
  a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(2)}×` : otherwise;

export const verdict = (ok: boolean): string => (ok ? "PASS" : "MISS");

/** CPU-seconds over `s` seconds, as a share of one core. */
export const pct = (cpuS: number, s: number): string => `${((cpuS / s) * 100).toFixed(0)} %`;

/** "others / server-core softirq / steal" over `seconds`, each in % of one core. */
export const noiseText = (n: Noise, seconds: number): string =>
  `${((n.othersS / seconds) * 100).toFixed(0)} / ${((n.serverCoreIrqS / seconds) * 100).toFixed(0)} / ${((n.stealS / seconds) * 100).toFixed(0)}`;

/** The header and the rows as lines: the first column left-aligned, the others right-aligned, two spaces between. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((_, c) => Math.max(header[c]!.length, ...rows.map((r) => (r[c] ?? "").length)));
  const fmtRow = (cells: readonly string[]): string => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ").trimEnd();
  return [fmtRow(header), ...rows.map(fmtRow)];
}
