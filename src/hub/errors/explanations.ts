import { HUB_ERRORS, type HubErrorName } from "./catalog.js";

/**
 * What `malachite explain` prints and docs/errors.md repeats for one catalog entry. The SDK behaviour was read from
 * the Node SDK sources (azure-iothub `RestApiClient.translateError` and `amqp_service_errors`, azure-iot-amqp-base
 * `amqp_common_errors`, azure-iot-device-http `http_errors`, azure-iot-common `DefaultErrorFilter`, @azure/core-amqp
 * `translate`) and from the reference notes in service-protocol.md §4.4, §6 and device-protocol.md §5.
 */
export interface ErrorExplanation {
  /** What happened, in a sentence or two. */
  readonly summary: string;
  /** The usual reasons a client meets it. */
  readonly causes: readonly string[];
  /** Which error the official SDKs raise for it and whether they retry. */
  readonly sdk: string;
  /** What to change in the application or its setup. */
  readonly fix: string;
  /** How to make a running Malachite produce it on demand, where that is possible today. */
  readonly reproduce?: string;
}

// Phrases several entries share.
const REGISTRY_NOT_RETRIED = "`Registry` calls are never retried by the SDK";
const SERVICE_RETRY = "`Client` operations (`open`, `send`, `invokeDeviceMethod`, the feedback and file notification receivers) run in a retry loop of up to 240 s";

export const EXPLANATIONS: Record<HubErrorName, ErrorExplanation> = {
  InvalidProtocolVersion: {
    summary: "The HTTPS request carried no `api-version` query parameter, or one the hub does not serve.",
    causes: [
      "A hand-written REST call or `curl` command that left out `?api-version=...`.",
      "A made-up or malformed version string, or one older than 2016-11-14.",
    ],
    sdk: "The SDKs always add a supported version, so they never meet it. Were it to happen, `azure-iothub` maps HTTP 400 to `ArgumentError` and the device SDK over HTTPS does the same; neither retries.",
    fix: "Add `api-version=2021-04-12` (or another dated version the SDKs use) to the query string of every REST call.",
    reproduce: "Call any HTTPS route without the parameter, e.g. `GET /devices/some-device` with a valid `iothubowner` token and no query string.",
  },
  InvalidOperation: {
    summary: "The request is well-formed but asks for something the hub never does in this place.",
    causes: [
      "Deleting the `$Default` consumer group, which always exists.",
      "Attaching an AMQP link in the wrong direction, e.g. sending on an address the hub only sends from.",
    ],
    sdk: "Over AMQP the condition `amqp:not-allowed` becomes `InvalidOperationError` (device and service SDKs); over HTTPS, `azure-iothub` raises `ArgumentError` for the 400. Neither is retried.",
    fix: "Read the error text: it names the operation the hub refused. Change the call rather than retrying it, since it will fail the same way every time.",
    reproduce: "`malachite consumer-group remove '$Default'`.",
  },
  ArgumentInvalid: {
    summary: "A value in the request broke one of the hub's rules: an id, a name, a range, a property or the shape of the body.",
    causes: [
      "An id with characters IoT Hub does not allow, or longer than 128 characters.",
      "A number outside its range, such as a direct-method `responseTimeoutInSeconds` below 5 or above 300.",
      "A twin patch or bulk record that does not have the expected shape.",
    ],
    sdk: "`azure-iothub` raises `ArgumentError` for HTTP 400; the device SDK over HTTPS raises `ArgumentError` too, and over AMQP `com.microsoft:argument-error` also becomes `ArgumentError`. None of them retries. Over MQTT a twin request refused this way fails with a plain `Error` carrying the hub's message, while a malformed packet or topic makes the hub close the connection.",
    fix: "The message says which value is wrong; correct it on the client. Validating ids and ranges before sending makes the failure show up earlier.",
    reproduce: "`malachite consumer-group add 'not a valid name'`, or invoke a direct method with `responseTimeoutInSeconds: 1`.",
  },
  ArgumentNull: {
    summary: "Something the operation cannot do without was missing: an empty body, or a required member left out.",
    causes: [
      "An HTTPS request with `Content-Type: application/json` and an empty body.",
      "A query request without a `query` member, or a file upload request without `blobName`.",
      "A file upload notification without its correlation id.",
    ],
    sdk: "HTTP 400, so `ArgumentError` from `azure-iothub` and from the device SDK over HTTPS; not retried.",
    fix: "Send the member the message names. With the SDKs this usually means an argument was `undefined` or an empty string.",
    reproduce: "`POST /devices/query?api-version=2021-04-12` with the body `{}` and an `iothubowner` token.",
  },
  IotHubFormatError: {
    summary: "The hub could not read the body: it is not valid JSON, or it does not match what the operation expects. File upload also uses this code for a correlation id the hub does not know.",
    causes: [
      "A body built by string concatenation that is not valid JSON.",
      "A file upload notification for an upload that was never started, was already notified, or whose SAS had expired.",
    ],
    sdk: "`azure-iothub` raises `ArgumentError` for the 400. On the device side, `notifyBlobUploadStatus` fails with a plain `Error` carrying the response (inside `BlobUploadNotificationError` when it came from `uploadToBlob`); nothing retries it.",
    fix: "Serialize bodies with `JSON.stringify`. For file upload, notify each correlation id once, from the device that asked for it, within the SAS lifetime.",
    reproduce: "From a device, call `client.notifyBlobUploadStatus('never-issued', true, 201, 'Created')`.",
  },
  DeviceDefinedMultipleTimes: {
    summary: "A bulk registry request listed the same device (or the same module) more than once.",
    causes: [
      "Import lists assembled from several sources without removing duplicates.",
      "Retrying part of a batch by appending it to the original list.",
    ],
    sdk: "HTTP 400, so `Registry.addDevices`, `updateDevices` and `removeDevices` fail with `ArgumentError`. " + REGISTRY_NOT_RETRIED + ".",
    fix: "Remove the duplicates before the call (a `Map` keyed by device id is enough). The whole request was refused, so nothing was applied.",
    reproduce: "`registry.addDevices([{ deviceId: 'twin' }, { deviceId: 'twin' }])`.",
  },
  BulkRegistryOperationFailure: {
    summary: "A bulk registry request was read correctly, but one or more of its records could not be applied.",
    causes: [
      "Creating devices that already exist, or updating or deleting devices that do not.",
      "An etag in a record that no longer matches the stored device.",
    ],
    sdk: "The response is HTTP 400, which `azure-iothub` raises as `ArgumentError`. The per-record errors are in the response body (`err.responseBody`), each with its own error code and device id. Not retried.",
    fix: "Parse `err.responseBody` and deal with each failed record on its own; the records that succeeded are applied and must not be sent again as creates. Malachite answers such a request with HTTP 400 and the per-record errors in the body.",
  },
  EtagDoesNotMatch: {
    summary: "The etag sent with an update is not the current etag of the entity. IoT Hub uses this older code in a few places; most operations report 412001 PreconditionFailed instead.",
    causes: [
      "Another writer changed the entity after it was read.",
      "An etag copied from an earlier read or from a different entity.",
    ],
    sdk: "Over HTTPS `azure-iothub` raises `ArgumentError` for the 400; over AMQP the condition `com.microsoft:precondition-failed` becomes `PreconditionFailedError`. Neither is retried.",
    fix: "Read the entity again, reapply the change on the fresh copy, and send it with the new etag, or with `*` when overwriting is acceptable. Malachite reports etag mismatches as 412001 PreconditionFailed.",
  },
  ConnectionForcefullyClosedOnNewConnection: {
    summary: "A device or module connection was closed because a new connection for the same identity arrived. IoT Hub keeps one connection per identity, and the newest one wins.",
    causes: [
      "Two processes, or two containers of one deployment, using the same device connection string.",
      "A client that opens a new connection without closing the old one, e.g. after a reconnect in application code.",
      "A test that creates a second client for a device that is still connected.",
    ],
    sdk: "The old client just sees its socket drop, which the device SDK reports as `NotConnectedError` and retries; its reconnect then pushes the other client out. Two clients with one identity therefore keep displacing each other.",
    fix: "Give every process its own device or module identity, or make sure only one client per identity is open (close the old one before creating a new one).",
    reproduce: "Connect a device over MQTT or AMQP, then open a second client with the same connection string: the first connection is closed.",
  },
  InvalidContentEncodingOrType: {
    summary: "The HTTPS request declared a content type or encoding the operation does not accept.",
    causes: [
      "A REST call sent with `Content-Type: text/plain`, `application/x-www-form-urlencoded` or no JSON type at all.",
    ],
    sdk: "HTTP 400, raised as `ArgumentError` by `azure-iothub` and by the device SDK over HTTPS; not retried. The SDKs set the right header themselves, so this comes from hand-written calls.",
    fix: "Send JSON bodies with `Content-Type: application/json` (optionally with `; charset=utf-8`).",
    reproduce: "`PUT /devices/some-device?api-version=2021-04-12` with `Content-Type: text/plain` and an `iothubowner` token.",
  },
  IotHubNotFound: {
    summary: "The request was addressed to an IoT hub this server is not. The host or hub name in the credentials does not match.",
    causes: [
      "A connection string whose `HostName` belongs to another hub, e.g. one copied from a different environment.",
      "An MQTT client that builds its username from a different host name than the one it connects to.",
    ],
    sdk: "Over MQTT the CONNACK is 5, which the device SDK reports as `UnauthorizedError` on the first connection (not retried). Over AMQP, `amqp:unauthorized-access` becomes `UnauthorizedError`. `azure-iothub` raises `UnauthorizedError` for HTTP 401 (it would only raise `IotHubNotFoundError` for a 404 with this code).",
    fix: "Use the connection string of the hub you connect to. With Malachite, `HostName` must be the hub's `--host-name`; take connection strings from `hub.json` rather than writing them by hand.",
    reproduce: "Connect an MQTT client (e.g. mqtt.js) whose CONNECT username starts with a host name other than the hub's, such as `other.example/device-1/?api-version=2021-04-12`.",
  },
  IotHubUnauthorizedAccess: {
    summary: "The hub did not accept the credentials, or the credentials are valid but do not carry the right this operation needs.",
    causes: [
      "A wrong, rotated or regenerated key in the connection string.",
      "A SAS token whose expiry has passed, or whose audience (`sr`) names another hub or device.",
      "A shared access policy without the needed right, e.g. `registryRead` trying to create a device (RegistryWrite).",
      "A device that is disabled or not registered, trying to connect.",
      "An X.509 device whose certificate thumbprint or CA is not registered.",
    ],
    sdk: "HTTP 401 is `UnauthorizedError` in `azure-iothub` and in the device SDK over HTTPS; a refused `$cbs` token or `amqp:unauthorized-access` is `UnauthorizedError` over AMQP; CONNACK 5 on a device's first MQTT connection is `UnauthorizedError` as well. None of these is retried. After an MQTT device has connected once, later refusals come back as `NotConnectedError` and are retried until the 240 s budget runs out.",
    fix: "Check the key against the registry (or `hub.json` for policies), check that the policy has the right the message names, and check that the device exists and is enabled. Regenerating a key invalidates every token signed with the old one.",
    reproduce: "Create a device with the `registryRead` connection string from `hub.json`, or connect a device whose connection string has a wrong `SharedAccessKey`.",
  },
  IotHubUnauthorized: {
    summary: "The token that authorized a connection is no longer valid. On a live connection this means its expiry time passed on the hub clock without a new token being presented.",
    causes: [
      "An MQTT or AMQP connection whose SAS token expired before the client renewed it.",
      "A custom token provider that mints tokens with a very short lifetime, or a device clock that runs fast or slow.",
      "An AMQP client that puts an already expired token on `$cbs`.",
    ],
    sdk: "When a live MQTT connection is closed for this reason the device SDK sees a dropped socket, reports `NotConnectedError` and reconnects with a fresh token. Over AMQP the SDK renews tokens on `$cbs` on its own; a refused put-token is `UnauthorizedError`, not retried. Over HTTPS, 401 is `UnauthorizedError`.",
    fix: "Let the SDK mint tokens from the key (it renews them before they expire), or renew custom tokens well before their expiry. Keep device clocks synchronized: a few minutes of drift is enough to cause this.",
    reproduce: "Connect a device over MQTT or AMQP, then move the hub clock past its token's expiry: `malachite clock --advance 3600` (SDK tokens live one hour). The hub closes the connection, and the SDK reconnects with a new token.",
  },
  IotHubSuspended: {
    summary: "The IoT hub is suspended, so it refuses every operation until it is resumed.",
    causes: [
      "The Azure subscription is disabled or has run out of credit.",
      "The hub was suspended administratively.",
    ],
    sdk: "Over AMQP `com.microsoft:iot-hub-suspended` becomes `IoTHubSuspendedError`; over HTTPS the 403 is `TooManyDevicesError` in `azure-iothub` and `IotHubQuotaExceededError` in the device SDK; MQTT devices get CONNACK 3, reported as `ServiceUnavailableError` and retried. Apart from that last case, nothing retries.",
    fix: "Nothing in the application fixes this: the hub's owner must reactivate the subscription or hub. Clients should back off for a long time rather than retry quickly.",
  },
  IotHubQuotaExceeded: {
    summary: "The hub has used up its daily message quota; metered operations are refused until the quota resets at midnight UTC.",
    causes: [
      "More device-to-cloud messages, cloud-to-device messages, twin operations or method calls than the tier and unit count allow per day.",
      "A device stuck in a loop that sends far more than intended.",
      "A free-tier hub, whose daily allowance is small.",
    ],
    sdk: "Over AMQP `com.microsoft:quota-exceeded` is `IotHubQuotaExceededError`; the device SDK over HTTPS raises `IotHubQuotaExceededError` for the 403 and `azure-iothub` raises `TooManyDevicesError`. Not retried. MQTT devices are refused with CONNACK 3 (`ServiceUnavailableError`, retried) or disconnected.",
    fix: "Find the sender that uses the quota (metrics by device help), batch or reduce messages, or add units or move to a higher tier. Retrying before the reset only wastes work.",
  },
  JobQuotaExceeded: {
    summary: "A limit on concurrent work was reached. IoT Hub uses it for too many active jobs; Malachite also uses it for a sixth reader on one partition of the Event Hub-compatible endpoint.",
    causes: [
      "Starting a job while the tier's maximum of active jobs (import/export allows only one) is already running.",
      "More than five receivers without an owner level reading the same partition through the same consumer group.",
    ],
    sdk: "`azure-iothub` raises `TooManyDevicesError` for HTTP 403 (not retried). `@azure/event-hubs` reports the AMQP condition `amqp:resource-limit-exceeded` as a `MessagingError` with code `QuotaExceededError`, which it does not retry.",
    fix: "Wait for running jobs to finish before starting new ones. For readers, close the ones you no longer use, give each application its own consumer group, or use an owner level so one reader takes the partition over.",
    reproduce: "Subscribe six `EventHubConsumerClient`s without `ownerLevel` to the same partition of the same consumer group: the sixth is refused.",
  },
  DeviceMaximumQueueDepthExceeded: {
    summary: "The device's cloud-to-device queue is full. A device queue holds at most 50 messages that are not yet completed, rejected or expired.",
    causes: [
      "The device is offline, so messages pile up.",
      "The device receives messages but never completes them (or its connection drops before it does).",
      "The back end sends faster than the device settles.",
    ],
    sdk: "`Client.send` over AMQP fails with `DeviceMaximumQueueDepthExceededError` (the service SDK maps `amqp:resource-limit-exceeded` to it); it is not retried. Devices never see this error.",
    fix: "Have the device complete (or reject) each message, use shorter TTLs so stale messages expire, ask for feedback to learn what was delivered, or purge the queue (`DELETE /devices/{id}/commands`). Check the device is online before sending bursts.",
    reproduce: "Run `malachite c2d send <device-id> hello` 51 times while the device is offline: the 51st is refused.",
  },
  IotHubMaxCbsTokenExceeded: {
    summary: "An AMQP connection has put more tokens on `$cbs` than the hub allows on one connection.",
    causes: [
      "A multiplexed AMQP connection carrying a very large number of devices, each with its own token.",
      "A client that puts a new token for every operation instead of renewing the existing one.",
    ],
    sdk: "The condition `amqp:resource-limit-exceeded` becomes `IotHubQuotaExceededError` in the device SDK and `DeviceMaximumQueueDepthExceededError` in the service SDK (which maps that condition to queue depth whatever its cause). Not retried.",
    fix: "Spread devices over more connections, and renew a token only shortly before it expires.",
  },
  DeviceMaximumActiveFileUploadLimitExceeded: {
    summary: "The device already has 10 file uploads in progress; another one cannot start until one of them ends.",
    causes: [
      "Uploads started with `getBlobSharedAccessSignature` whose completion was never sent with `notifyBlobUploadStatus`.",
      "A crash or error path between the upload and the notification.",
      "Too many uploads started in parallel.",
    ],
    sdk: "The device SDK fails the SAS request with a plain `Error` that carries the response; `uploadToBlob` wraps it in `BlobSasError`. It is not retried.",
    fix: "Always notify the hub when an upload ends, successfully or not (a `finally` block), and limit parallel uploads per device. An upload that is never notified only frees its slot when its SAS expires.",
    reproduce: "Call `getBlobSharedAccessSignature` 11 times from one device without notifying any of them. Moving the hub clock past the SAS lifetime (`malachite clock --advance 3600`) frees the slots again.",
  },
  InvalidMessageExpiryTime: {
    summary: "The expiry time given to a message is not usable, for example it lies outside the range the hub accepts.",
    causes: [
      "An `expiryTimeUtc` that is not a valid date, or that lies far in the past or beyond the hub's maximum TTL.",
      "A local clock that is badly off when the expiry is computed.",
    ],
    sdk: "HTTP 403 becomes `TooManyDevicesError` in `azure-iothub`; over AMQP `com.microsoft:argument-error` becomes `ArgumentError`. Not retried.",
    fix: "Set `expiryTimeUtc` a short, positive interval ahead (the default TTL is one hour, the maximum two days), or leave it out and let the hub's default apply. Malachite brings an expiry beyond the maximum down to it rather than refusing it.",
  },
  OperationNotAvailableInCurrentTier: {
    summary: "The hub's tier does not include the operation. Basic tiers have no cloud-to-device messages, twins, direct methods, jobs or configurations.",
    causes: [
      "An application written against a standard-tier hub, run against a basic-tier one.",
      "A hub scaled down to a basic tier.",
    ],
    sdk: "`azure-iothub` raises `TooManyDevicesError` for HTTP 403 and the device SDK over HTTPS `IotHubQuotaExceededError`; over AMQP `amqp:not-allowed` becomes `InvalidOperationError`. Not retried.",
    fix: "Use a standard (S) or free tier hub for these features, or avoid them on basic tiers (telemetry and file upload work there).",
  },
  DeviceDisabled: {
    summary: "The device (or the device a module belongs to) has the status `disabled`, so the hub ended its connection.",
    causes: [
      "Someone or some automation set the device's status to `disabled` in the registry.",
      "A provisioning step that creates devices disabled and never enables them.",
    ],
    sdk: "A connected device just loses its connection (`NotConnectedError`, retried); its reconnect attempts are then refused as unauthorized (`UnauthorizedError` over AMQP and HTTPS and on a first MQTT connection). Malachite refuses a disabled device's new connections with 401002.",
    fix: "Enable the device again (`status: 'enabled'`) if it should connect. Check `statusReason` in the registry for why it was disabled.",
    reproduce: "Connect a device, then read it with `registry.get`, set `status` to `'disabled'` and write it back with `registry.update`: the hub closes its connection.",
  },
  DeviceNotFound: {
    summary: "No device with this id is registered on the hub. A cloud-to-device message for a disabled device is refused the same way.",
    causes: [
      "A typo or a case difference in the device id (ids are case-sensitive).",
      "A device deleted, or not yet created, at the time of the call.",
      "A connection string or script pointing at another hub.",
    ],
    sdk: "`azure-iothub` raises `DeviceNotFoundError` for HTTP 404 with this code, and `Client.send` over AMQP raises `DeviceNotFoundError` for `amqp:not-found`. Not retried. A device that does not exist is refused when it connects, which the device SDK reports as `UnauthorizedError`.",
    fix: "Create the device first (or check the id and the hub). Deleting a device closes its live connection, so code that recreates devices must reconnect them.",
    reproduce: "`registry.get('no-such-device')`, or `malachite c2d send no-such-device hello`.",
  },
  JobNotFound: {
    summary: "No job with this id exists on the hub.",
    causes: [
      "A wrong job id.",
      "A job older than the hub's job history, which is kept for 30 days.",
    ],
    sdk: "`azure-iothub`'s `JobClient` gets HTTP 404 without the `DeviceNotFound` code and raises a plain `Error('Not found')`, with the body in `err.responseBody`. Not retried.",
    fix: "Keep the id returned when the job was created, and store job results yourself if you need them longer than the hub keeps them.",
  },
  ModuleNotFound: {
    summary: "The device exists, but it has no module with this id.",
    causes: [
      "A typo or case difference in the module id.",
      "A module deleted, or not yet created.",
      "A module id used with the wrong device id.",
    ],
    sdk: "`azure-iothub` raises a plain `Error('Not found')` for HTTP 404 unless the code is `DeviceNotFound` or `IotHubNotFound`, so check `err.responseBody` for `ModuleNotFound`. Not retried. A module that does not exist is refused when it connects (`UnauthorizedError`).",
    fix: "Create the module with `registry.addModule` before using it. Deleting a module closes its live connection.",
    reproduce: "`registry.getModule('some-device', 'no-such-module')`.",
  },
  DeviceNotOnline: {
    summary: "A direct method was invoked on a device or module that was not connected and listening for methods within the connect timeout.",
    causes: [
      "The device is offline or between reconnects.",
      "The device is connected but never registered a method handler (`onDeviceMethod`), so it is not subscribed to methods.",
      "`connectTimeoutInSeconds` left at 0 (the default), so the hub does not wait at all.",
    ],
    sdk: "`Client.invokeDeviceMethod` gets HTTP 404 with a JSON body that is not in the `ErrorCode:` form, so `azure-iothub` raises a plain `Error('Not found')`; the code `404103` is in `err.responseBody`. It is not retried.",
    fix: "Give devices that connect intermittently a `connectTimeoutInSeconds` (up to 300), register method handlers right after connecting, or queue a cloud-to-device message instead when delivery can wait.",
    reproduce: "Invoke a method on a registered device that is not connected, or that is connected without a method handler.",
  },
  DeviceConnectionClosedRemotely: {
    summary: "The hub ended a device's connection. IoT Hub logs this code when a connection goes away for a reason other than the device closing it cleanly.",
    causes: [
      "No MQTT packet (not even a PINGREQ) within 1.5 times the keep-alive the client asked for.",
      "A network drop, NAT or proxy timeout, or the device losing power.",
      "An expired token (logged after 401003).",
    ],
    sdk: "The device SDK sees a dropped socket, reports `NotConnectedError` and reconnects with its retry policy; the application only hears about it (a `disconnect` event) if reconnecting fails.",
    fix: "Keep the keep-alive below idle timeouts on the path (the hub caps it near 29 minutes), make sure the device's event loop is not blocked so pings go out, and renew tokens before they expire.",
    reproduce: "Connect a device over MQTT and advance the hub clock past its keep-alive window (the SDK asks for 180 s, so 1.5 times that is 270 s): `malachite clock --advance 300`.",
  },
  ConfigurationNotFound: {
    summary: "No configuration (automatic device management or IoT Edge deployment) with this id exists.",
    causes: [
      "A wrong configuration id, or one deleted already.",
    ],
    sdk: "`azure-iothub` raises a plain `Error('Not found')` for the 404 (the body says `ConfigurationNotFound`). Not retried.",
    fix: "List the configurations to find the right id, or create it before reading or updating it.",
  },
  DeviceAlreadyExists: {
    summary: "A device with this id is already registered, so it cannot be created again.",
    causes: [
      "Provisioning code that runs twice, or two instances that create the same device.",
      "A create used where an update was meant.",
    ],
    sdk: "`azure-iothub` raises `DeviceAlreadyExistsError` for HTTP 409. Not retried.",
    fix: "Treat the error as success when the device only needs to exist, or read the device and update it instead of creating it.",
    reproduce: "Call `registry.create({ deviceId: 'd1' })` twice.",
  },
  LinkCreationConflict: {
    summary: "A new AMQP link conflicts with one that is already open for the same purpose, so one of them was closed.",
    causes: [
      "An AMQP device client attaching a second link of the same kind for the same identity (the older link is closed).",
      "On the Event Hub-compatible endpoint: a reader with a lower owner level, or without one, where a reader with a higher owner level already holds the partition.",
    ],
    sdk: "The device SDK has no class for `amqp:link:stolen` and reports a plain `Error`, not retried. `@azure/event-hubs` reports it as a `MessagingError` with code `ReceiverDisconnectedError`; a subscription that loses its partition this way ends with `OwnershipLost` and is not retried.",
    fix: "Use one client per identity and one reader per partition and owner. With owner levels, make sure only the intended reader uses the highest one, and close readers you replace.",
    reproduce: "Subscribe an `EventHubConsumerClient` with `ownerLevel: 2` to a partition, then another with `ownerLevel: 1` (or none) to the same partition and consumer group.",
  },
  JobAlreadyExists: {
    summary: "A job with this id already exists, so it cannot be scheduled again.",
    causes: [
      "Reusing a fixed job id, or retrying a schedule call that had in fact succeeded.",
    ],
    sdk: "`azure-iothub` raises `DeviceAlreadyExistsError` for every HTTP 409, including this one. Not retried.",
    fix: "Generate a new id (a UUID) for every job, and on a retried schedule call read the job first to see whether it exists.",
  },
  ModuleAlreadyExistsOnDevice: {
    summary: "The device already has a module with this id.",
    causes: [
      "Provisioning code that runs twice, or a create used where an update was meant.",
    ],
    sdk: "`azure-iothub` raises `DeviceAlreadyExistsError` for the HTTP 409, although it is the module that exists. Not retried.",
    fix: "Treat it as success when the module only needs to exist, or update the module instead.",
    reproduce: "Call `registry.addModule({ deviceId: 'd1', moduleId: 'm1' })` twice.",
  },
  ConfigurationAlreadyExists: {
    summary: "A configuration with this id already exists.",
    causes: [
      "Deployment scripts that create rather than update, or run twice.",
    ],
    sdk: "`azure-iothub` raises `DeviceAlreadyExistsError` for every HTTP 409. Not retried.",
    fix: "Update the existing configuration instead, delete it first, or create the new one under another id.",
  },
  PreconditionFailed: {
    summary: "The etag in `If-Match` does not match the entity's current etag, so the update or delete was refused to avoid overwriting someone else's change.",
    causes: [
      "Two writers updating the same device, module or twin; the second one holds a stale etag.",
      "An etag read long before the write, or taken from another entity.",
      "A twin update sent with the etag of the device identity (they are different).",
    ],
    sdk: "`azure-iothub` raises `InvalidEtagError` for HTTP 412; over AMQP `com.microsoft:precondition-failed` is `PreconditionFailedError`. Neither is retried.",
    fix: "Read the entity again, apply the change to the fresh copy, and retry with its etag; or pass `*` when last-writer-wins is acceptable.",
    reproduce: "Read a twin, update it once, then call `registry.updateTwin` again with the etag from the first read.",
  },
  DeviceMessageLockLost: {
    summary: "A cloud-to-device message (or a feedback or file notification) was completed, rejected or abandoned with a lock token the hub no longer holds.",
    causes: [
      "The receiver took longer than the one-minute lock to settle the message, so the hub made it available again.",
      "The message was settled already, or expired meanwhile.",
      "A lock token kept from an earlier delivery of the same message.",
    ],
    sdk: "Over HTTPS the device SDK's `complete`, `reject` and `abandon` fail with a plain `Error` that carries the response (status 412); over AMQP the condition `com.microsoft:message-lock-lost` is `DeviceMessageLockLostError`. Not retried.",
    fix: "Settle each message promptly after receiving it and do long work afterwards, and make message handling idempotent: the message will come again with a higher delivery count.",
    reproduce: "With the `Http` device transport, receive a message, run `malachite clock --advance 61`, then call `client.complete(message)`.",
  },
  MessageTooLarge: {
    summary: "The message or payload is bigger than the hub accepts for this operation.",
    causes: [
      "Device-to-cloud messages over 256 KB (body plus properties).",
      "Cloud-to-device messages over 64 KB.",
      "Direct method payloads over 128 KB.",
    ],
    sdk: "Over AMQP `amqp:link:message-size-exceeded` is `MessageTooLargeError`, for devices and for `Client.send`; the device SDK over HTTPS raises `MessageTooLargeError` for the 413. `azure-iothub`'s HTTP calls (e.g. `invokeDeviceMethod`) have no class for 413 and raise a plain `Error`. Over MQTT the hub closes the connection. Not retried.",
    fix: "Send less per message: split, compress, or upload large data with file upload and send a reference to it.",
    reproduce: "`malachite c2d send <device-id> \"$(head -c 70000 /dev/zero | tr '\\0' x)\"` (over 64 KB), or send a 300 KB event from a device over HTTPS.",
  },
  TooManyDevices: {
    summary: "The request names more devices than one call may, or the registry has no room for more.",
    causes: [
      "A bulk registry request with more than 100 records.",
      "A hub that has reached its maximum number of registered devices.",
    ],
    sdk: "`azure-iothub` has no class for HTTP 413 and raises a plain `Error` with the hub's message. (Its `TooManyDevicesError` is what it raises for any 403.) Not retried.",
    fix: "Split bulk operations into chunks of at most 100 devices, or delete devices you no longer need.",
    reproduce: "`registry.addDevices` with 101 devices.",
  },
  TooManyModulesOnDevice: {
    summary: "The device already has as many modules as a device may have, so another cannot be added.",
    causes: [
      "Module ids generated per deployment or per run and never cleaned up.",
    ],
    sdk: "`azure-iothub` raises a plain `Error` for HTTP 413 (it has no class for that status). Not retried.",
    fix: "Delete modules that are no longer used, or spread the work over more devices. Malachite allows 50 modules per device.",
    reproduce: "Add 51 modules to one device with `registry.addModule`.",
  },
  ThrottlingException: {
    summary: "The hub is throttling this kind of operation: requests arrive faster than the hub's rate for it allows, and its backlog of delayed requests is full.",
    causes: [
      "Bursts of registry operations, twin updates or C2D sends beyond the per-unit rate of the tier.",
      "Many devices reconnecting at the same moment after an outage.",
      "A tight loop retrying without delay.",
    ],
    sdk: "`azure-iothub` raises `ThrottlingError` for HTTP 429, and " + SERVICE_RETRY + " with a long back-off (10 to 60 s) for throttling; " + REGISTRY_NOT_RETRIED + ". Over AMQP `com.microsoft:device-container-throttled` is `ThrottlingError` and is retried the same way. The device SDK over HTTPS has no class for 429 and raises a plain `Error`, not retried.",
    fix: "Spread the load over time (jitter on reconnects and periodic work), retry with exponential back-off, batch where the API allows it, or add units or a higher tier.",
  },
  ThrottleBacklogLimitExceeded: {
    summary: "The hub's queue of requests held back by throttling is full, so this one was refused.",
    causes: [
      "A sustained rate above the throttle, long enough for the backlog to fill.",
    ],
    sdk: "Same as 429001: `ThrottlingError`, retried with a long back-off by `Client` and the device SDK over AMQP, not by `Registry` or by the device SDK over HTTPS.",
    fix: "Reduce the sustained rate or add capacity; retrying harder only keeps the backlog full.",
  },
  ThrottlingBacklogTimeout: {
    summary: "The request waited in the throttling backlog for too long and was dropped.",
    causes: [
      "A rate well above the throttle, so queued requests cannot be served in time.",
    ],
    sdk: "Same as 429001: `ThrottlingError`, retried with a long back-off by `Client` and the device SDK over AMQP, not by `Registry` or by the device SDK over HTTPS.",
    fix: "Lower the request rate or add capacity, and use back-off with jitter when retrying.",
  },
  ThrottlingMaxActiveJobCountExceeded: {
    summary: "The hub is already running as many jobs as its tier allows at once.",
    causes: [
      "Scheduling jobs in a loop without waiting for earlier ones to finish.",
      "Import or export jobs, of which only one may run at a time.",
    ],
    sdk: "`azure-iothub` raises `ThrottlingError` for the HTTP 429; `JobClient` and `Registry` calls are not retried by the SDK.",
    fix: "Wait for running jobs to complete (poll their status) before scheduling more, or cover more devices with one job through its query.",
  },
  DeviceThrottlingLimitExceeded: {
    summary: "One device sends or connects faster than the hub allows a single device.",
    causes: [
      "A device reconnecting in a tight loop.",
      "A device sending telemetry or twin updates far above its expected rate.",
    ],
    sdk: "Over AMQP `com.microsoft:device-container-throttled` is `ThrottlingError` and the device SDK retries it with a 10 to 60 s back-off. MQTT devices are refused with CONNACK 3 (`ServiceUnavailableError`, retried). The device SDK over HTTPS raises a plain `Error` for 429, not retried.",
    fix: "Throttle on the device: batch readings, send on change instead of on every sample, and back off between reconnects.",
  },
  ServerError: {
    summary: "Something failed inside the hub while handling the request. The request itself may have been fine.",
    causes: [
      "A transient fault in the service.",
      "In Malachite, an unexpected exception: the hub logs it with the tracking id, so look there, and please report it.",
    ],
    sdk: "`azure-iothub` raises `InternalServerError` for HTTP 500 and `amqp:internal-error` is `InternalServerError` over AMQP. `Client` operations and device SDK operations retry it; `Registry` calls do not. MQTT devices are disconnected and reconnect.",
    fix: "Retry with back-off (make the operation idempotent first). If it persists, collect the tracking id from the error message for support, or from Malachite's log.",
    reproduce: "Add a fault rule: `malachite fault add --error 500001 --operation twin.get --device <id> --count 1` fails that device's next twin read (any operation can be chosen).",
  },
  JobCancelled: {
    summary: "The job was cancelled before it finished.",
    causes: [
      "Someone cancelled the job (`JobClient.cancelJob`).",
      "The service cancelled it, e.g. because it could not complete.",
    ],
    sdk: "`azure-iothub` raises `InternalServerError` for the HTTP 500. `JobClient` calls are not retried by the SDK.",
    fix: "Check who cancelled the job and why, then schedule a new job (with a new id) if the work is still needed.",
  },
  GenericTimeout: {
    summary: "The hub could not complete the operation, often a connection request, in time.",
    causes: [
      "A transient slowdown in the service.",
      "A very slow or congested network between the device and the hub.",
    ],
    sdk: "Over AMQP `com.microsoft:timeout` is `ServiceUnavailableError`; over HTTPS the 500 is `InternalServerError`; MQTT devices are refused with CONNACK 3 (`ServiceUnavailableError`). All of these are retried by the device SDK and by `Client`, not by `Registry`.",
    fix: "Retry with back-off. If it keeps happening, check the network path and the hub's health.",
  },
  ServiceUnavailable: {
    summary: "The hub cannot serve the request right now. Malachite also uses this code when it shuts down and closes the connections still open.",
    causes: [
      "A transient outage or maintenance in the service.",
      "The Malachite process stopping (SIGINT or SIGTERM) while clients are connected.",
    ],
    sdk: "`ServiceUnavailableError` for HTTP 503 in `azure-iothub` and in the device SDK over HTTPS; `com.microsoft:server-busy` has no class of its own in the IoT SDKs and arrives as a plain `Error`. MQTT devices see CONNACK 3 (`ServiceUnavailableError`) or a dropped connection (`NotConnectedError`). The HTTP and MQTT forms are retried by the device SDK and by `Client`, not by `Registry`; the AMQP form is not retried.",
    fix: "Retry with back-off; the SDKs already do for devices and `Client`. For Malachite, start the hub again.",
    reproduce: "Stop the hub (Ctrl+C) while a device is connected; the device's connection is closed and it keeps trying to reconnect.",
  },
  PartitionNotFound: {
    summary: "A transient error inside the hub: a piece of its internal storage could not be reached.",
    causes: [
      "A failover or rebalancing inside the service.",
    ],
    sdk: "`ServiceUnavailableError` for HTTP 503 (retried by the device SDK and by `Client`, not by `Registry`); over AMQP `amqp:internal-error` is `InternalServerError`, also retried; MQTT devices are refused with CONNACK 3 or disconnected, and reconnect.",
    fix: "Retry with back-off. It should clear on its own within minutes.",
  },
  ServerBusy: {
    summary: "The hub is overloaded and asks the client to come back later.",
    causes: [
      "A spike of load on the service.",
    ],
    sdk: "`ServiceUnavailableError` for HTTP 503, retried by `Client` and the device SDK; not retried in `Registry` calls. The AMQP condition `com.microsoft:server-busy` is a plain `Error` in the IoT SDKs and `ServerBusyError` (retried) in `@azure/event-hubs`.",
    fix: "Back off and retry; reduce bursts of requests.",
    reproduce: "Add a fault rule: `malachite fault add --error 503005 --operation d2c --probability 0.2 --seed 1` refuses about one message in five, the same ones on every run.",
  },
  ReceiveLinkOpensThrottled: {
    summary: "Too many AMQP receive links were opened in a short time, so the hub refused this one for now.",
    causes: [
      "Many devices re-attaching their cloud-to-device links at once, e.g. after a network outage.",
      "A client that opens and closes receive links in a loop.",
    ],
    sdk: "The condition `com.microsoft:server-busy` has no class in the IoT SDKs and arrives as a plain `Error`; `@azure/event-hubs` reports `ServerBusyError` and retries it.",
    fix: "Keep receive links open instead of re-creating them, and add jitter to reconnects.",
  },
  GatewayTimeout: {
    summary: "A direct method reached the device, but the device did not answer within `responseTimeoutInSeconds`.",
    causes: [
      "The method handler never calls `response.send`, or calls it only after long work.",
      "The handler threw or the device stalled after receiving the request.",
      "A response timeout that is too short for the work the method does.",
    ],
    sdk: "`azure-iothub` raises `GatewayTimeoutError` for HTTP 504; its retry filter does not retry it.",
    fix: "Answer every method quickly, and run long work after answering (report progress through reported properties). Raise `responseTimeoutInSeconds` (up to 300) where the work must finish first.",
    reproduce: "Register a method handler that never responds, invoke the method, then `malachite clock --advance 30` (the default response timeout is 30 s).",
  },
  NotFound: {
    summary: "Malachite does not serve this path or address. IoT Hub has no code of its own for this; Malachite uses 404000.",
    causes: [
      "A REST path that IoT Hub does not have, often a typo or a missing segment.",
      "An AMQP link to an unknown address, or an Event Hubs reader naming another entity.",
      "A consumer group that does not exist.",
    ],
    sdk: "`azure-iothub` raises a plain `Error('Not found')` for HTTP 404 without a `DeviceNotFound` code. `@azure/event-hubs` reports an unknown entity as `MessagingEntityNotFoundError`, not retried.",
    fix: "Check the path or address against the IoT Hub REST reference, and create consumer groups before reading from them (`malachite consumer-group add`).",
    reproduce: "`malachite consumer-group remove no-such-group`, or `GET /no/such/path?api-version=2021-04-12`.",
  },
};

const NAMES = Object.keys(HUB_ERRORS) as HubErrorName[];

/** Lower case without separators, so `device-not-found`, `Device Not Found` and `DEVICENOTFOUND` compare equal. */
function normalize(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]/g, "");
}

/**
 * The catalog entry a query names: a six-digit code (`403004`) or a name in any case, with or without separators
 * and with or without the `ErrorCode:` / `iothub-errorcode:` prefix the wire forms put before it.
 */
export function findError(query: string): HubErrorName | undefined {
  const text = query.trim().replace(/^(?:iothub-)?errorcode\s*:\s*/i, "");
  if (/^\d{6}$/.test(text)) return NAMES.find((name) => HUB_ERRORS[name].code === Number(text));
  const key = normalize(text);
  if (key === "") return undefined;
  return NAMES.find((name) => normalize(name) === key);
}

/**
 * Entries a query that names none of them may have meant: names containing it, codes starting with it, entries
 * whose AMQP condition contains it, or whose SDK notes name it (e.g. an SDK class such as `ThrottlingError`).
 */
export function closeMatches(query: string): HubErrorName[] {
  const text = query.trim().replace(/^(?:iothub-)?errorcode\s*:\s*/i, "");
  const key = normalize(text);
  if (key === "") return [];
  const lower = text.toLowerCase();
  return NAMES.filter((name) => {
    const spec = HUB_ERRORS[name];
    if (/^\d+$/.test(text)) return String(spec.code).startsWith(text);
    if (normalize(name).includes(key) || key.includes(normalize(name))) return true;
    if (lower.includes(":") && spec.amqpCondition.includes(lower)) return true;
    return key.length >= 4 && new RegExp(`\\b${escapeRegExp(text)}\\b`, "i").test(EXPLANATIONS[name].sdk);
  });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** `403004 DeviceMaximumQueueDepthExceeded (HTTP 403, AMQP amqp:resource-limit-exceeded, MQTT 403)`. */
export function headline(name: HubErrorName): string {
  const spec = HUB_ERRORS[name];
  const connack = "connack" in spec.mqtt ? `, CONNACK ${spec.mqtt.connack}` : "";
  return `${spec.code} ${name} (HTTP ${spec.httpStatus}, AMQP ${spec.amqpCondition}, MQTT ${spec.mqtt.status}${connack})`;
}

/** The words of `text`, where a `code span` with spaces counts as one word so it is never broken across lines. */
function words(text: string): string[] {
  const out: string[] = [];
  let open: string | undefined;
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    const ticks = (word.match(/`/g) ?? []).length;
    if (open !== undefined) {
      open = `${open} ${word}`;
      if (ticks % 2 === 1) {
        out.push(open);
        open = undefined;
      }
    } else if (ticks % 2 === 1) {
      open = word;
    } else {
      out.push(word);
    }
  }
  if (open !== undefined) out.push(open);
  return out;
}

/**
 * Breaks `text` into lines of at most `width` characters (a longer word or code span stays whole), the first prefixed
 * by `first`, the rest by `rest`.
 */
export function wrap(text: string, width: number, first: string, rest: string): string[] {
  const lines: string[] = [];
  let line = first;
  let empty = true;
  for (const word of words(text)) {
    if (!empty && line.length + 1 + word.length > width) {
      lines.push(line);
      line = rest + word;
    } else {
      line = empty ? line + word : `${line} ${word}`;
    }
    empty = false;
  }
  lines.push(line);
  return lines;
}

const WIDTH = 100;

/** The explanation of one error as plain text for a terminal, wrapped at 100 columns. */
export function renderExplanation(name: HubErrorName): string {
  const e = EXPLANATIONS[name];
  const out: string[] = [headline(name), "", ...wrap(`Default message: ${HUB_ERRORS[name].message}`, WIDTH, "", "  ")];
  const section = (title: string, body: string): void => {
    out.push("", title, ...wrap(body, WIDTH, "  ", "  "));
  };
  section("What happened", e.summary);
  out.push("", "Usual causes");
  for (const cause of e.causes) out.push(...wrap(cause, WIDTH, "  - ", "    "));
  section("What the SDKs do", e.sdk);
  section("What to change", e.fix);
  if (e.reproduce !== undefined) section("Reproduce it in Malachite", e.reproduce);
  return `${out.join("\n")}\n`;
}
