import { HubError } from "../../hub/index.js";

/** Parses a JSON request body; malformed JSON is IoT Hub's 400006 IotHubFormatError, never a crash. */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new HubError("IotHubFormatError", { message: `The request body is not valid JSON: ${(error as Error).message}` });
  }
}
