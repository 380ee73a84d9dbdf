import { HubError } from "../errors/index.js";

// Learn, "Understand the identity registry": ids are case-sensitive, up to 128 characters of ASCII letters and
// digits plus - . + % _ # * ? ! ( ) , = @ $ '
const ID_PATTERN = /^[A-Za-z0-9\-.+%_#*?!(),=@$']{1,128}$/;

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

/** Throws 400 ArgumentInvalid naming the id and the rule when `id` is not a valid device or module id. */
export function checkId(id: unknown, what: "DeviceId" | "ModuleId", trackingId?: string): string {
  if (typeof id !== "string" || !isValidId(id)) {
    const shown = typeof id === "string" ? `'${id.length > 140 ? `${id.slice(0, 140)}…` : id}'` : String(id);
    throw new HubError("ArgumentInvalid", {
      message: `${what} ${shown} is not valid: it must be 1-128 characters of ASCII letters, digits and - . + % _ # * ? ! ( ) , = @ $ '`,
      ...(trackingId === undefined ? {} : { trackingId }),
    });
  }
  return id;
}
