import { HubError, isHubError } from "../../hub/index.js";

/**
 * Turns what fastify or a handler threw into the IoT Hub error a client should see. Framework errors about the
 * request (body too large, wrong media type, bad JSON) become their IoT Hub counterparts; anything unexpected
 * becomes ServerError (500001), and the caller logs it with the tracking id.
 */
export function toHubError(thrown: unknown): { error: HubError; unexpected: boolean } {
  if (isHubError(thrown)) return { error: thrown, unexpected: false };
  const code = (thrown as { code?: unknown } | null)?.code;
  const status = (thrown as { statusCode?: unknown } | null)?.statusCode;
  switch (code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return { error: new HubError("MessageTooLarge", { message: "The request body is larger than the limit of this operation" }), unexpected: false };
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return { error: new HubError("InvalidContentEncodingOrType", { message: "The Content-Type of the request is not supported: send application/json" }), unexpected: false };
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return { error: new HubError("ArgumentNull", { message: "The request body is empty" }), unexpected: false };
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return { error: new HubError("ArgumentInvalid", { message: "The Content-Length of the request does not match its body" }), unexpected: false };
    default:
      if (typeof status === "number" && status >= 400 && status < 500) {
        return { error: new HubError("ArgumentInvalid", { message: (thrown as Error).message }), unexpected: false };
      }
      return { error: new HubError("ServerError"), unexpected: true };
  }
}
