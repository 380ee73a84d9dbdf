/**
 * Command-line options shared by the benchmarks: the ones every benchmark takes (`commonOptions`, `helpOrContinue`,
 * `commonValues`) and checked numbers and lists (`positiveInt`, `listOption`). A bad value is said on stderr, and the
 * process exits 2.
 */
import { resolve } from "node:path";

/** --no-pin, --profile DIR, --keep, --timeout S (default `timeoutS`) and --help, to spread into parseArgs's options. */
export function commonOptions(timeoutS: number) {
  return {
    "no-pin": { type: "boolean", default: false },
    profile: { type: "string" },
    keep: { type: "boolean", default: false },
    timeout: { type: "string", default: String(timeoutS) },
    help: { type: "boolean", default: false },
  } as const;
}

/** With --help: prints `usage` on stdout and exits 0. */
export function helpOrContinue(help: boolean, usage: string): void {
  if (!help) return;
  process.stdout.write(usage);
  process.exit(0);
}

/** An integer from `min` to `max`, or exit 2. */
export function positiveInt(name: string, text: string, max = Number.MAX_SAFE_INTEGER, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    process.stderr.write(`--${name} must be an integer from ${min} to ${max}; got ${text}\n`);
    process.exit(2);
  }
  return n;
}

/** The common options' values: --timeout in seconds (at most a day) and the --profile directory, resolved. */
export function commonValues(opts: { readonly timeout: string; readonly profile?: string | undefined }): { timeoutS: number; profileDir: string | undefined } {
  return {
    timeoutS: positiveInt("timeout", opts.timeout, 24 * 3600),
    profileDir: opts.profile === undefined ? undefined : resolve(opts.profile),
  };
}

/** A comma-separated list of `allowed` names (blanks dropped), or exit 2 on the first other one. */
export function listOption<T extends string>(
  name: string,
  text: string,
  allowed: readonly T[],
  complaint = (item: string): string => `--${name}: '${item}' is not one of ${allowed.join(", ")}`,
): T[] {
  const items = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) {
      process.stderr.write(`${complaint(item)}\n`);
      process.exit(2);
    }
  }
  return items as T[];
}
