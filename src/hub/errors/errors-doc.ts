import { HUB_ERRORS, type HubErrorName } from "./catalog.js";
import { EXPLANATIONS, wrap } from "./explanations.js";

/** The table rows of docs/errors.md, made from the catalog; the catalog test checks the document against them. */
export function errorTableRows(): string[] {
  return (Object.keys(HUB_ERRORS) as HubErrorName[]).map((name) => {
    const e = HUB_ERRORS[name];
    const connack = "connack" in e.mqtt ? ` (CONNACK ${e.mqtt.connack})` : "";
    return `| ${e.code} | ${name} | ${e.httpStatus} | \`${e.amqpCondition}\` | ${e.mqtt.status}${connack} | ${e.message} |`;
  });
}

const WIDTH = 120;

/**
 * The "## Explanations" section of docs/errors.md (from its heading to the end of the file), made from EXPLANATIONS
 * in catalog order; the catalog test checks the document against it.
 */
export function explanationSections(): string {
  const out: string[] = [
    "## Explanations",
    "",
    ...wrap(
      "The same text `malachite explain <code|name>` prints: what happened, the usual causes, what the official Node " +
        "SDKs raise (and whether they retry), what to change, and where possible how to make Malachite produce the " +
        "error on demand. Generated from `src/hub/errors/explanations.ts`.",
      WIDTH,
      "",
      "",
    ),
  ];
  const paragraph = (title: string, body: string): void => {
    out.push("", ...wrap(`**${title}** ${body}`, WIDTH, "", ""));
  };
  for (const name of Object.keys(HUB_ERRORS) as HubErrorName[]) {
    const spec = HUB_ERRORS[name];
    const e = EXPLANATIONS[name];
    const connack = "connack" in spec.mqtt ? ` (CONNACK ${spec.mqtt.connack})` : "";
    out.push("", `### ${spec.code} ${name}`, "", `HTTP ${spec.httpStatus} · AMQP \`${spec.amqpCondition}\` · MQTT ${spec.mqtt.status}${connack}`);
    paragraph("What happened.", e.summary);
    out.push("", "**Usual causes:**", "");
    for (const cause of e.causes) out.push(...wrap(cause, WIDTH, "- ", "  "));
    paragraph("What the SDKs do.", e.sdk);
    paragraph("What to change.", e.fix);
    if (e.reproduce !== undefined) paragraph("Reproduce it in Malachite.", e.reproduce);
  }
  return `${out.join("\n")}\n`;
}
