/**
 * Every IoT Hub error Malachite can raise, keyed by IoT Hub's own name (the service swagger's `ErrorCode` enum),
 * with the numeric code from the IoT Hub troubleshooting guide and how each wire carries it.
 * `docs/errors.md` lists the same table; `catalog.test.ts` keeps the two in sync.
 */
export interface ErrorSpec {
  /** Six-digit IoT Hub code; its first three digits are the HTTP status where the error has an HTTP form. */
  readonly code: number;
  readonly httpStatus: number;
  /** AMQP error condition on the refused link, delivery or connection. */
  readonly amqpCondition: string;
  /** MQTT: status in `$iothub/twin/res/{status}` / `$iothub/methods/res`; CONNACK code when a connection is refused. */
  readonly mqtt: { readonly status: number; readonly connack?: 2 | 3 | 4 | 5 };
  /** Text used when the raiser gives none. */
  readonly message: string;
}

const unauthorized = "amqp:unauthorized-access";
const notFound = "amqp:not-found";
const argument = "com.microsoft:argument-error";
const limit = "amqp:resource-limit-exceeded";
const internal = "amqp:internal-error";

export const HUB_ERRORS = {
  InvalidProtocolVersion: { code: 400001, httpStatus: 400, amqpCondition: argument, mqtt: { status: 400 }, message: "The api-version query parameter is missing or not supported" },
  InvalidOperation: { code: 400003, httpStatus: 400, amqpCondition: "amqp:not-allowed", mqtt: { status: 400 }, message: "The operation is not valid" },
  ArgumentInvalid: { code: 400004, httpStatus: 400, amqpCondition: argument, mqtt: { status: 400 }, message: "Request is not valid" },
  ArgumentNull: { code: 400005, httpStatus: 400, amqpCondition: argument, mqtt: { status: 400 }, message: "A required value is missing" },
  IotHubFormatError: { code: 400006, httpStatus: 400, amqpCondition: argument, mqtt: { status: 400 }, message: "The request body is not well-formed JSON" },
  DeviceDefinedMultipleTimes: { code: 400011, httpStatus: 400, amqpCondition: argument, mqtt: { status: 400 }, message: "A device is defined more than once in the request" },
  BulkRegistryOperationFailure: { code: 400013, httpStatus: 400, amqpCondition: argument, mqtt: { status: 400 }, message: "One or more operations of the bulk request failed" },
  EtagDoesNotMatch: { code: 400023, httpStatus: 400, amqpCondition: "com.microsoft:precondition-failed", mqtt: { status: 400 }, message: "The etag does not match" },
  ConnectionForcefullyClosedOnNewConnection: { code: 400027, httpStatus: 400, amqpCondition: "amqp:link:stolen", mqtt: { status: 400 }, message: "The connection was closed because a new connection was opened with the same identity" },
  InvalidContentEncodingOrType: { code: 400103, httpStatus: 400, amqpCondition: argument, mqtt: { status: 400 }, message: "The content type or content encoding is not supported" },
  IotHubNotFound: { code: 401001, httpStatus: 401, amqpCondition: unauthorized, mqtt: { status: 401, connack: 5 }, message: "IoT hub not found" },
  IotHubUnauthorizedAccess: { code: 401002, httpStatus: 401, amqpCondition: unauthorized, mqtt: { status: 401, connack: 5 }, message: "Unauthorized" },
  IotHubUnauthorized: { code: 401003, httpStatus: 401, amqpCondition: unauthorized, mqtt: { status: 401, connack: 5 }, message: "The token has expired or is not valid" },
  IotHubSuspended: { code: 403001, httpStatus: 403, amqpCondition: "com.microsoft:iot-hub-suspended", mqtt: { status: 403, connack: 3 }, message: "The IoT hub is suspended" },
  IotHubQuotaExceeded: { code: 403002, httpStatus: 403, amqpCondition: "com.microsoft:quota-exceeded", mqtt: { status: 403, connack: 3 }, message: "The daily message quota of the IoT hub is exceeded" },
  JobQuotaExceeded: { code: 403003, httpStatus: 403, amqpCondition: limit, mqtt: { status: 403 }, message: "The number of active jobs exceeds the limit of the IoT hub" },
  DeviceMaximumQueueDepthExceeded: { code: 403004, httpStatus: 403, amqpCondition: limit, mqtt: { status: 403 }, message: "The number of messages enqueued for the device exceeds the queue limit (50)" },
  IotHubMaxCbsTokenExceeded: { code: 403005, httpStatus: 403, amqpCondition: limit, mqtt: { status: 403 }, message: "The number of CBS tokens on the connection exceeds the limit" },
  DeviceMaximumActiveFileUploadLimitExceeded: { code: 403006, httpStatus: 403, amqpCondition: limit, mqtt: { status: 403 }, message: "Number of active file upload requests cannot exceed 10" },
  InvalidMessageExpiryTime: { code: 403009, httpStatus: 403, amqpCondition: argument, mqtt: { status: 403 }, message: "The message expiry time is not valid" },
  OperationNotAvailableInCurrentTier: { code: 403010, httpStatus: 403, amqpCondition: "amqp:not-allowed", mqtt: { status: 403 }, message: "The operation is not available in the current tier of the IoT hub" },
  DeviceDisabled: { code: 403012, httpStatus: 403, amqpCondition: unauthorized, mqtt: { status: 403, connack: 5 }, message: "The device is disabled" },
  DeviceNotFound: { code: 404001, httpStatus: 404, amqpCondition: notFound, mqtt: { status: 404, connack: 5 }, message: "The device does not exist" },
  JobNotFound: { code: 404002, httpStatus: 404, amqpCondition: notFound, mqtt: { status: 404 }, message: "The job does not exist" },
  ModuleNotFound: { code: 404010, httpStatus: 404, amqpCondition: notFound, mqtt: { status: 404, connack: 5 }, message: "The module does not exist on the device" },
  DeviceNotOnline: { code: 404103, httpStatus: 404, amqpCondition: notFound, mqtt: { status: 404 }, message: "Timed out waiting for device to connect." },
  DeviceConnectionClosedRemotely: { code: 404104, httpStatus: 404, amqpCondition: "amqp:connection:forced", mqtt: { status: 404 }, message: "The device connection was closed" },
  ConfigurationNotFound: { code: 404301, httpStatus: 404, amqpCondition: notFound, mqtt: { status: 404 }, message: "The configuration does not exist" },
  DeviceAlreadyExists: { code: 409001, httpStatus: 409, amqpCondition: "amqp:not-allowed", mqtt: { status: 409 }, message: "A device with this id already exists" },
  LinkCreationConflict: { code: 409002, httpStatus: 409, amqpCondition: "amqp:link:stolen", mqtt: { status: 409 }, message: "A link of the same role for this device already exists, so the older link was closed" },
  JobAlreadyExists: { code: 409104, httpStatus: 409, amqpCondition: "amqp:not-allowed", mqtt: { status: 409 }, message: "A job with this id already exists" },
  ModuleAlreadyExistsOnDevice: { code: 409301, httpStatus: 409, amqpCondition: "amqp:not-allowed", mqtt: { status: 409 }, message: "A module with this id already exists on the device" },
  ConfigurationAlreadyExists: { code: 409401, httpStatus: 409, amqpCondition: "amqp:not-allowed", mqtt: { status: 409 }, message: "A configuration with this id already exists" },
  PreconditionFailed: { code: 412001, httpStatus: 412, amqpCondition: "com.microsoft:precondition-failed", mqtt: { status: 412 }, message: "The etag in If-Match does not match the current etag" },
  DeviceMessageLockLost: { code: 412002, httpStatus: 412, amqpCondition: "com.microsoft:message-lock-lost", mqtt: { status: 412 }, message: "The message lock was lost: the lock token is not valid or has expired" },
  MessageTooLarge: { code: 413001, httpStatus: 413, amqpCondition: "amqp:link:message-size-exceeded", mqtt: { status: 413 }, message: "The message is larger than the limit" },
  TooManyDevices: { code: 413002, httpStatus: 413, amqpCondition: limit, mqtt: { status: 413 }, message: "Too many devices in the request or in the registry" },
  TooManyModulesOnDevice: { code: 413003, httpStatus: 413, amqpCondition: limit, mqtt: { status: 413 }, message: "Too many modules on the device" },
  ThrottlingException: { code: 429001, httpStatus: 429, amqpCondition: "com.microsoft:device-container-throttled", mqtt: { status: 429, connack: 3 }, message: "The request was throttled: the rate limit of this operation is exceeded" },
  ThrottleBacklogLimitExceeded: { code: 429002, httpStatus: 429, amqpCondition: "com.microsoft:device-container-throttled", mqtt: { status: 429, connack: 3 }, message: "The throttling backlog of this operation is full" },
  ThrottlingBacklogTimeout: { code: 429003, httpStatus: 429, amqpCondition: "com.microsoft:device-container-throttled", mqtt: { status: 429, connack: 3 }, message: "The request timed out in the throttling backlog" },
  ThrottlingMaxActiveJobCountExceeded: { code: 429004, httpStatus: 429, amqpCondition: "com.microsoft:device-container-throttled", mqtt: { status: 429 }, message: "The maximum number of active jobs is reached" },
  DeviceThrottlingLimitExceeded: { code: 429005, httpStatus: 429, amqpCondition: "com.microsoft:device-container-throttled", mqtt: { status: 429, connack: 3 }, message: "The device's throttling limit is exceeded" },
  ServerError: { code: 500001, httpStatus: 500, amqpCondition: internal, mqtt: { status: 500, connack: 3 }, message: "An internal error occurred" },
  JobCancelled: { code: 500002, httpStatus: 500, amqpCondition: internal, mqtt: { status: 500 }, message: "The job was cancelled" },
  GenericTimeout: { code: 500008, httpStatus: 500, amqpCondition: "com.microsoft:timeout", mqtt: { status: 500, connack: 3 }, message: "IoT Hub couldn't complete the connection request before timing out" },
  ServiceUnavailable: { code: 503001, httpStatus: 503, amqpCondition: "com.microsoft:server-busy", mqtt: { status: 503, connack: 3 }, message: "The service is unavailable" },
  PartitionNotFound: { code: 503003, httpStatus: 503, amqpCondition: internal, mqtt: { status: 503, connack: 3 }, message: "A transient internal error occurred" },
  ServerBusy: { code: 503005, httpStatus: 503, amqpCondition: "com.microsoft:server-busy", mqtt: { status: 503, connack: 3 }, message: "The server is busy" },
  ReceiveLinkOpensThrottled: { code: 503008, httpStatus: 503, amqpCondition: "com.microsoft:server-busy", mqtt: { status: 503 }, message: "Receive link throttled" },
  GatewayTimeout: { code: 504101, httpStatus: 504, amqpCondition: "com.microsoft:timeout", mqtt: { status: 504 }, message: "Timed out waiting for the response from device." },
  // Not in the swagger enum: the router's answer for a path IoT Hub does not serve (HTTP 404 with no IoT Hub code of its own).
  NotFound: { code: 404000, httpStatus: 404, amqpCondition: notFound, mqtt: { status: 404 }, message: "The requested resource does not exist" },
} as const satisfies Record<string, ErrorSpec>;

export type HubErrorName = keyof typeof HUB_ERRORS;

export function isHubErrorName(name: string): name is HubErrorName {
  return Object.hasOwn(HUB_ERRORS, name);
}
