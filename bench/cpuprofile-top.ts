/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof` or bench/registry-hub.ts's profiler): the functions with the
 * most self time and the most inclusive time, by file and line.
 *
 *   node --import tsx bench/cpuprofile-top.ts FILE.cpuprofile [--top 20]
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

export interface FunctionTime {
  readonly name: string;
  /** Microseconds. */
  readonly selfUs: number;
  readonly totalUs: number;
}

const ROOT = new URL("..", import.meta.url).href;
const sources = new Map<string, string[] | undefined>();

/**
 * The line where a TypeScript function is defined. tsx runs sources through esbuild, which squeezes each module onto
 * a line or two, so the profile's line numbers are useless for .ts files; the definition is found by name instead.
 */
function definitionLine(url: string, name: string): number | undefined {
  if (!sources.has(url)) {
    try {
      sources.set(url, readFileSync(fileURLToPath(url), "utf8").split("\n"));
    } catch {
      sources.set(url, undefined);
    }
  }
  const lines = sources.get(url);
  if (lines === undefined || name === "") return undefined;
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const patterns = [
    new RegExp(`function\\*?\\s+${escaped}\\s*[<(]`),
    new RegExp(`^\\s*(?:(?:export|static|async|private|public|protected|readonly|override|get|set)\\s+)*${escaped}\\s*[<(]`),
    new RegExp(`(?:const|let|var)\\s+${escaped}\\s*=`),
  ];
  for (const pattern of patterns) {
    const index = lines.findIndex((line) => pattern.test(line));
    if (index >= 0) return index + 1;
  }
  return undefined;
}

function label(frame: CallFrame): string {
  const name = frame.functionName === "" ? "(anonymous)" : frame.functionName;
  if (frame.url === "") return name;
  let where = frame.url.startsWith(ROOT) ? frame.url.slice(ROOT.length) : frame.url;
  // node_modules paths are long; the package and file are enough.
  const nm = where.lastIndexOf("node_modules/");
  if (nm >= 0) where = where.slice(nm + "node_modules/".length);
  const line = /\.[cm]?ts$/.test(frame.url) ? definitionLine(frame.url, frame.functionName) : frame.lineNumber + 1;
  return line === undefined ? `${name} ${where}` : `${name} ${where}:${line}`;
}

/** Self and inclusive time per function (a function that recurses is counted once per sample). */
export function summarize(profile: CpuProfile): { totalUs: number; functions: FunctionTime[] } {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let totalUs = 0;
  for (let i = 0; i < samples.length; i++) {
    // timeDeltas[i] is the time before sample i; the time after the sample is the better attribution.
    const us = deltas[i + 1] ?? deltas[i] ?? 0;
    totalUs += us;
    let id: number | undefined = samples[i]!;
    const leaf = byId.get(id);
    if (leaf === undefined) continue;
    const leafLabel = label(leaf.callFrame);
    self.set(leafLabel, (self.get(leafLabel) ?? 0) + us);
    const seen = new Set<string>();
    while (id !== undefined) {
      const node = byId.get(id);
      if (node === undefined) break;
      const l = label(node.callFrame);
      if (!seen.has(l)) {
        seen.add(l);
        total.set(l, (total.get(l) ?? 0) + us);
      }
      id = parent.get(id);
    }
  }
  const functions = [...total.entries()].map(([name, totalUs]) => ({ name, totalUs, selfUs: self.get(name) ?? 0 }));
  return { totalUs, functions };
}

/** A printable report: top `top` by self time, then by inclusive time. */
export function formatSummary(profile: CpuProfile, top = 20): string {
  const { totalUs, functions } = summarize(profile);
  const pct = (us: number): string => `${((100 * us) / Math.max(totalUs, 1)).toFixed(1).padStart(5)} %`;
  const ms = (us: number): string => `${(us / 1000).toFixed(0).padStart(7)} ms`;
  const lines = [`profile: ${(totalUs / 1e6).toFixed(2)} s sampled`, "", "by self time:"];
  for (const f of [...functions].sort((a, b) => b.selfUs - a.selfUs).slice(0, top)) lines.push(`  ${ms(f.selfUs)} ${pct(f.selfUs)}  ${f.name}`);
  lines.push("", "by inclusive time (idle, GC and (root) excluded):");
  const skip = new Set(["(root)", "(program)", "(idle)", "(garbage collector)"]);
  for (const f of [...functions].filter((f) => !skip.has(f.name)).sort((a, b) => b.totalUs - a.totalUs).slice(0, top)) {
    lines.push(`  ${ms(f.totalUs)} ${pct(f.totalUs)}  ${f.name}`);
  }
  return lines.join("\n");
}

/**
 * Prints on stdout, for each profile written, `Malachite CPU profile, NAME (PATH):` and its summary (top 15); a
 * profile that cannot be read (not written) is left out.
 */
export function writeProfileSummaries(profiles: Iterable<{ readonly name: string; readonly path: string }>): void {
  for (const p of profiles) {
    try {
      const profile = JSON.parse(readFileSync(p.path, "utf8")) as CpuProfile;
      process.stdout.write(`\nMalachite CPU profile, ${p.name} (${p.path}):\n${formatSummary(profile, 15)}\n`);
    } catch {
      // not written
    }
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: "string", default: "20" } } });
  if (positionals.length === 0) {
    process.stderr.write("usage: cpuprofile-top.ts FILE.cpuprofile [--top 20]\n");
    process.exit(2);
  }
  for (const file of positionals) {
    process.stdout.write(`${file}\n${formatSummary(JSON.parse(readFileSync(file, "utf8")) as CpuProfile, Number(values.top))}\n\n`);
  }
}
