import { HUB_ERRORS, type HubErrorName } from "./catalog.js";

/** The table rows of docs/errors.md, made from the catalog; the catalog test checks the document against them. */
export function errorTableRows(): string[] {
  return (Object.keys(HUB_ERRORS) as HubErrorName[]).map((name) => {
    const e = HUB_ERRORS[name];
    const connack = "connack" in e.mqtt ? ` (CONNACK ${e.mqtt.connack})` : "";
    return `| ${e.code} | ${name} | ${e.httpStatus} | \`${e.amqpCondition}\` | ${e.mqtt.status}${connack} | ${e.message} |`;
  });
}
