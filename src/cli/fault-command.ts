import type { CliDeps } from "./cli-deps.js";
import type { FaultRule } from "../hub/index.js";
import { runAdminCall } from "./hub-client.js";
import { EXIT_USAGE } from "./start-command.js";

type Output = Pick<CliDeps, "stdout" | "stderr">;

export interface FaultAddOptions {
  readonly dataDir?: string | undefined;
  readonly error?: string | undefined;
  readonly operation?: string | undefined;
  readonly device?: string | undefined;
  readonly module?: string | undefined;
  readonly protocol?: string | undefined;
  readonly count?: string | undefined;
  readonly probability?: string | undefined;
  readonly seed?: string | undefined;
  readonly after?: string | undefined;
  readonly duration?: string | undefined;
  readonly delay?: string | undefined;
}

/** A rule as `/admin/faults` renders it: the core's view, sent as JSON. */
type RuleView = Omit<FaultRule, "source" | "createdTime">;


/** One rule on one line: id, what, where, and how often. */
export function describeRule(rule: RuleView): string {
  const parts = [`${rule.id}  ${rule.code ?? rule.error}${rule.code === undefined ? "" : ` ${rule.error}`} on ${rule.operation}`];
  if (rule.deviceId !== undefined) parts.push(`device ${rule.deviceId}${rule.moduleId === undefined ? "" : `/${rule.moduleId}`}`);
  if (rule.protocol !== undefined) parts.push(`over ${rule.protocol}`);
  if (rule.delaySeconds !== undefined) parts.push(`delay ${rule.delaySeconds}s`);
  if (rule.probability !== undefined) parts.push(`p=${rule.probability} seed=${rule.seed}`);
  if (rule.afterSeconds !== undefined) parts.push(`after ${rule.afterSeconds}s`);
  if (rule.durationSeconds !== undefined) parts.push(`for ${rule.durationSeconds}s`);
  parts.push(`applied ${rule.applied}${rule.count === undefined ? "" : `/${rule.count}`}`, rule.state);
  return `${parts.join(", ")}\n`;
}

const NUMBERS = { count: "count", probability: "probability", seed: "seed", after: "afterSeconds", duration: "durationSeconds", delay: "delaySeconds" } as const;

/** `malachite fault add --error <code|name|drop|refuseConnect|delay> --operation <op> […]`; the hub validates the rule. */
export async function runFaultAdd(options: FaultAddOptions, env: Record<string, string | undefined>, deps: Output): Promise<number> {
  if (options.error === undefined || options.operation === undefined) {
    deps.stderr.write("malachite: fault add needs --error (an IoT Hub code or name, or drop, refuseConnect, delay) and --operation\n");
    return EXIT_USAGE;
  }
  const body: Record<string, unknown> = { error: /^\d+$/.test(options.error) ? Number(options.error) : options.error, operation: options.operation };
  if (options.device !== undefined) body["deviceId"] = options.device;
  if (options.module !== undefined) body["moduleId"] = options.module;
  if (options.protocol !== undefined) body["protocol"] = options.protocol;
  for (const [option, field] of Object.entries(NUMBERS) as Array<[keyof typeof NUMBERS, string]>) {
    const text = options[option];
    if (text === undefined) continue;
    const value = Number(text);
    if (text.trim() === "" || !Number.isFinite(value)) {
      deps.stderr.write(`malachite: --${option} must be a number; got '${text}'\n`);
      return EXIT_USAGE;
    }
    body[field] = value;
  }
  return runAdminCall(options, env, deps, { method: "POST", path: "/admin/faults", body, expected: 201 }, (reply) => `Added ${describeRule(JSON.parse(reply.text) as RuleView)}`);
}

/** `malachite fault list`: one rule a line, oldest first. */
export function runFaultList(options: { dataDir?: string | undefined }, env: Record<string, string | undefined>, deps: Output): Promise<number> {
  return runAdminCall(options, env, deps, { method: "GET", path: "/admin/faults", expected: 200 }, (reply) => {
    const rules = (JSON.parse(reply.text) as { rules: RuleView[] }).rules;
    return rules.length === 0 ? "No fault rules\n" : rules.map(describeRule).join("");
  });
}

/** `malachite fault remove <id>`. */
export function runFaultRemove(id: string, options: { dataDir?: string | undefined }, env: Record<string, string | undefined>, deps: Output): Promise<number> {
  return runAdminCall(options, env, deps, { method: "DELETE", path: `/admin/faults/${encodeURIComponent(id)}`, expected: 204 }, () => `Fault rule ${id} removed\n`);
}
