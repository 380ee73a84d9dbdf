import { HubError } from "../../hub/index.js";

export interface HttpErrorResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** "MM/dd/yyyy HH:mm:ss" (UTC), the timestamp IoT Hub puts in ExceptionMessage. */
function exceptionTime(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/**
 * IoT Hub's classic error body (service-protocol §6.1 shape A) plus the `iothub-errorcode` header:
 * `{"Message":"ErrorCode:<Name>;<text>","ExceptionMessage":"Tracking ID:<id>-G:0-TimeStamp:<time>"}`. The Node
 * service SDK splits Message on ';' to pick its error class and text, so the text itself must hold no ';'.
 */
export function renderHttpError(error: HubError, trackingId: string, now: number): HttpErrorResponse {
  const text = error.message.replaceAll(";", ",");
  if (error.errorName === "DeviceNotOnline" || error.errorName === "GatewayTimeout") return renderMethodError(error, trackingId, now);
  return {
    status: error.spec.httpStatus,
    headers: { "content-type": "application/json; charset=utf-8", "iothub-errorcode": error.errorName },
    body: JSON.stringify({
      Message: `ErrorCode:${error.errorName};${text}`,
      ExceptionMessage: `Tracking ID:${error.trackingId ?? trackingId}-G:0-TimeStamp:${exceptionTime(now)}`,
    }),
  };
}

/**
 * Direct-method failures use IoT Hub's other body shape (service-protocol §6.1 shape B): `Message` is a JSON string
 * holding {errorCode, trackingId, message, info, timestampUtc}. The Node SDK then reports a plain Error carrying the
 * body; the .NET SDK reads the numeric code from it.
 */
function renderMethodError(error: HubError, trackingId: string, now: number): HttpErrorResponse {
  const inner = {
    errorCode: error.code,
    trackingId: error.trackingId ?? trackingId,
    message: error.message,
    info: error.info ?? {},
    timestampUtc: new Date(now).toISOString(),
  };
  return {
    status: error.spec.httpStatus,
    headers: { "content-type": "application/json; charset=utf-8", "iothub-errorcode": error.errorName },
    body: JSON.stringify({ Message: JSON.stringify(inner), ExceptionMessage: "" }),
  };
}
