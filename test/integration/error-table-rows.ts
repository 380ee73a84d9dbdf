// Issue #6: the code × protocol table. Each row is one cell's evidence: an error of the IoT Hub troubleshooting guide,
// produced on one protocol by a fault rule (`via: "fault"`) or by the real condition (`via: "real"`), and what the
// official Node SDK surfaces. `error-table.test.ts` produces every row and compares; `renderErrorTable()` is the
// "## Errors by protocol" section of docs/errors.md, which the same test compares with the file.

export type Protocol = "mqtt-device" | "amqp-device" | "https-device" | "https-service" | "amqp-service";

/**
 * What the row does: the fault rule's operation, or the SDK call that meets the real condition (`tokenExpiry`: the
 * SAS token of a live connection expires on the hub clock).
 */
export type Operation = "connect" | "tokenExpiry" | "d2c" | "c2d.settle" | "fileUpload" | "registry" | "twin.get" | "method.invoke" | "c2d.send";

export interface ErrorRow {
  readonly code: number;
  readonly protocol: Protocol;
  readonly operation: Operation;
  readonly via: "fault" | "real";
  /**
   * What the SDK surfaces: the rejected promise's error class (`err.constructor.name`); for service HTTPS calls the
   * class and the HTTP status; `disconnect` when the client emits it (the connection was closed) within the wait.
   */
  readonly sdk: string;
}

/** The troubleshooting guide's errors, in its order, with the names docs/errors.md gives them. */
export const GUIDE_ERRORS: ReadonlyArray<{ code: number; name: string; label?: string }> = [
  { code: 400027, name: "ConnectionForcefullyClosedOnNewConnection" },
  { code: 401003, name: "IotHubUnauthorized", label: "401003 (→ 404104)" },
  { code: 403002, name: "IotHubQuotaExceeded" },
  { code: 403004, name: "DeviceMaximumQueueDepthExceeded" },
  { code: 403006, name: "DeviceMaximumActiveFileUploadLimitExceeded" },
  { code: 404001, name: "DeviceNotFound" },
  { code: 404103, name: "DeviceNotOnline" },
  { code: 404104, name: "DeviceConnectionClosedRemotely" },
  { code: 409002, name: "LinkCreationConflict" },
  { code: 412002, name: "DeviceMessageLockLost" },
  { code: 429001, name: "ThrottlingException" },
  { code: 500001, name: "ServerError" },
  { code: 500008, name: "GenericTimeout" },
  { code: 503003, name: "PartitionNotFound" },
  { code: 504101, name: "GatewayTimeout" },
];

export const PROTOCOLS: ReadonlyArray<{ protocol: Protocol; title: string }> = [
  { protocol: "mqtt-device", title: "MQTT device" },
  { protocol: "amqp-device", title: "AMQP device" },
  { protocol: "https-device", title: "HTTPS device" },
  { protocol: "https-service", title: "service HTTPS" },
  { protocol: "amqp-service", title: "service AMQP" },
];

const r = (code: number, protocol: Protocol, operation: Operation, via: "fault" | "real", sdk: string): ErrorRow => ({ code, protocol, operation, via, sdk });

export const ERROR_ROWS: readonly ErrorRow[] = [
  r(400027, "mqtt-device", "connect", "real", "disconnect"),
  r(400027, "mqtt-device", "d2c", "fault", "NotConnectedError + disconnect"),
  r(400027, "amqp-device", "connect", "real", "disconnect"),
  r(400027, "amqp-device", "d2c", "fault", "Error + disconnect"),

  r(401003, "mqtt-device", "connect", "fault", "UnauthorizedError"),
  r(401003, "mqtt-device", "tokenExpiry", "real", "disconnect"),
  r(401003, "amqp-device", "connect", "fault", "UnauthorizedError"),
  r(401003, "amqp-device", "tokenExpiry", "real", "disconnect"),
  r(401003, "https-device", "d2c", "fault", "UnauthorizedError"),
  r(401003, "https-service", "registry", "fault", "UnauthorizedError (401)"),
  r(401003, "amqp-service", "c2d.send", "fault", "UnauthorizedError"),

  r(403002, "mqtt-device", "d2c", "fault", "NotConnectedError + disconnect"),
  r(403002, "amqp-device", "d2c", "fault", "IotHubQuotaExceededError"),
  r(403002, "https-device", "d2c", "fault", "IotHubQuotaExceededError"),
  r(403002, "https-service", "twin.get", "fault", "TooManyDevicesError (403)"),
  r(403002, "amqp-service", "c2d.send", "fault", "IotHubQuotaExceededError"),

  r(403004, "amqp-service", "c2d.send", "fault", "DeviceMaximumQueueDepthExceededError"),

  r(403006, "https-device", "fileUpload", "fault", "Error"),

  r(404001, "https-service", "registry", "real", "DeviceNotFoundError (404)"),
  r(404001, "https-service", "registry", "fault", "DeviceNotFoundError (404)"),
  r(404001, "amqp-service", "c2d.send", "real", "DeviceNotFoundError"),
  r(404001, "amqp-service", "c2d.send", "fault", "DeviceNotFoundError"),

  r(404103, "https-service", "method.invoke", "real", "Error (404)"),
  r(404103, "https-service", "method.invoke", "fault", "Error (404)"),

  r(404104, "mqtt-device", "d2c", "fault", "NotConnectedError + disconnect"),
  r(404104, "amqp-device", "d2c", "fault", "Error + disconnect"),

  r(409002, "amqp-device", "d2c", "fault", "Error + disconnect"),

  r(412002, "https-device", "c2d.settle", "real", "Error"),
  r(412002, "https-device", "c2d.settle", "fault", "Error"),

  r(429001, "mqtt-device", "d2c", "fault", "NotConnectedError + disconnect"),
  r(429001, "amqp-device", "d2c", "fault", "ThrottlingError"),
  r(429001, "https-device", "d2c", "fault", "Error"),
  r(429001, "https-service", "registry", "fault", "ThrottlingError (429)"),
  r(429001, "amqp-service", "c2d.send", "fault", "ThrottlingError"),

  r(500001, "mqtt-device", "d2c", "fault", "NotConnectedError + disconnect"),
  r(500001, "amqp-device", "d2c", "fault", "InternalServerError"),
  r(500001, "https-device", "d2c", "fault", "InternalServerError"),
  r(500001, "https-service", "registry", "fault", "InternalServerError (500)"),
  r(500001, "amqp-service", "c2d.send", "fault", "InternalServerError"),

  r(500008, "mqtt-device", "connect", "fault", "ServiceUnavailableError"),
  r(500008, "amqp-device", "connect", "fault", "UnauthorizedError"),
  r(500008, "https-device", "d2c", "fault", "InternalServerError"),
  r(500008, "https-service", "registry", "fault", "InternalServerError (500)"),
  r(500008, "amqp-service", "c2d.send", "fault", "ServiceUnavailableError"),

  r(503003, "mqtt-device", "d2c", "fault", "NotConnectedError + disconnect"),
  r(503003, "amqp-device", "d2c", "fault", "InternalServerError"),
  r(503003, "https-device", "d2c", "fault", "ServiceUnavailableError"),
  r(503003, "https-service", "registry", "fault", "ServiceUnavailableError (503)"),
  r(503003, "amqp-service", "c2d.send", "fault", "InternalServerError"),

  r(504101, "https-service", "method.invoke", "real", "GatewayTimeoutError (504)"),
  r(504101, "https-service", "method.invoke", "fault", "GatewayTimeoutError (504)"),
];

/** One cell: each operation with what the SDK surfaced; "(fault)"/"(real)" only where the two disagree. */
function cell(rows: readonly ErrorRow[]): string {
  if (rows.length === 0) return "—";
  const parts: string[] = [];
  const operations = [...new Set(rows.map((row) => row.operation))];
  for (const operation of operations) {
    const ofOp = rows.filter((row) => row.operation === operation);
    const outcomes = [...new Set(ofOp.map((row) => row.sdk))];
    const text = outcomes.length === 1 ? outcomes[0]! : ofOp.map((row) => `${row.sdk} (${row.via})`).join(", ");
    parts.push(`${operation}: ${text}`);
  }
  return parts.join("<br>");
}

/** The "## Errors by protocol" section of docs/errors.md, heading included, ending with a blank line. */
export function renderErrorTable(): string {
  const lines = [
    "## Errors by protocol (what the official SDKs surface)",
    "",
    "Where IoT Hub returns each error of the troubleshooting guide, and what the official Node SDKs (`azure-iot-device`",
    "with its MQTT, AMQP and HTTP transports; `azure-iothub`) surface when Malachite returns it. Each cell names the",
    "operation, then the rejected promise's error class (with the HTTP status for service REST calls); `disconnect`",
    "means the client emitted `disconnect` because the hub closed the connection. \"—\": IoT Hub does not return the",
    "error there. Generated from `test/integration/error-table-rows.ts`; `test/integration/error-table.test.ts`",
    "produces every cell with a fault rule and, where marked in the rows, by the real condition, and fails when this",
    "table and the SDKs disagree.",
    "",
    `| Code | Name | ${PROTOCOLS.map((p) => p.title).join(" | ")} |`,
    `| --- | --- | ${PROTOCOLS.map(() => "---").join(" | ")} |`,
  ];
  for (const { code, name, label } of GUIDE_ERRORS) {
    const cells = PROTOCOLS.map(({ protocol }) => cell(ERROR_ROWS.filter((row) => row.code === code && row.protocol === protocol)));
    // Bold codes: the catalog test reads every line starting "| <6 digits> |" as its own table's.
    lines.push(`| **${label ?? code}** | ${name} | ${cells.join(" | ")} |`);
  }
  lines.push("");
  return `${lines.join("\n")}\n`;
}
