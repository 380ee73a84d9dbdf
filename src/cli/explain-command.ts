import { HUB_ERRORS, type HubErrorName } from "../hub/errors/catalog.js";
import { closeMatches, findError, renderExplanation } from "../hub/errors/explanations.js";
import type { CliDeps } from "./cli-deps.js";
import { EXIT_OK, EXIT_USAGE } from "./start-command.js";

const byCode = (a: HubErrorName, b: HubErrorName): number => HUB_ERRORS[a].code - HUB_ERRORS[b].code;

function list(names: readonly HubErrorName[], indent: string): string {
  return names
    .slice()
    .sort(byCode)
    .map((name) => `${indent}${HUB_ERRORS[name].code}  ${name}\n`)
    .join("");
}

/**
 * `malachite explain [code|name]`: explains one IoT Hub error from the catalog (no hub needed), or lists every code
 * and name when no query is given. A query that names no error exits 2 and lists the entries it may have meant.
 */
export function runExplain(query: string | undefined, deps: Pick<CliDeps, "stdout" | "stderr">): number {
  if (query === undefined || query.trim() === "") {
    deps.stdout.write(`IoT Hub errors Malachite knows; \`malachite explain <code|name>\` explains one:\n\n`);
    deps.stdout.write(list(Object.keys(HUB_ERRORS) as HubErrorName[], "  "));
    return EXIT_OK;
  }
  const name = findError(query);
  if (name !== undefined) {
    deps.stdout.write(renderExplanation(name));
    return EXIT_OK;
  }
  const matches = closeMatches(query);
  const hint = "Run `malachite explain` to list every code and name.\n";
  deps.stderr.write(
    matches.length === 0
      ? `malachite: no IoT Hub error has the code or name '${query}'. ${hint}`
      : `malachite: no IoT Hub error has the code or name '${query}'. Close matches:\n${list(matches, "  ")}${hint}`,
  );
  return EXIT_USAGE;
}
