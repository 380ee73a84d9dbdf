import type { HubErrorName } from "../errors/index.js";
import type { C2dEvent } from "../c2d/c2d-events.js";
import type { FileUploadEvent } from "../file-upload/file-upload-events.js";
import type { LimitedOperation } from "../limits/hub-limits.js";

/**
 * What happened in the hub, for resource logs, metrics and the dashboard (issue #6 turns these into Azure Monitor
 * records). Every event carries the hub time it happened at.
 */
export type HubEvent =
  | { readonly type: "deviceConnected"; readonly time: number; readonly deviceId: string; readonly moduleId: string; readonly protocol: string; readonly authMethod: string; readonly ipAddress?: string | undefined; readonly sdkVersion?: string | undefined }
  | { readonly type: "deviceDisconnected"; readonly time: number; readonly deviceId: string; readonly moduleId: string; readonly protocol: string; readonly reason: HubErrorName | "ClientDisconnect"; readonly code: number | undefined; readonly authMethod?: string | undefined; readonly ipAddress?: string | undefined }
  | { readonly type: "connectionRefused"; readonly time: number; readonly deviceId: string; readonly moduleId: string; readonly protocol: string; readonly error: HubErrorName; readonly ipAddress?: string | undefined; readonly sdkVersion?: string | undefined }
  | { readonly type: "telemetryAccepted"; readonly time: number; readonly deviceId: string; readonly moduleId: string; readonly partition: number; readonly sizeInBytes: number }
  /** A device-to-cloud message the hub refused (413001, 403002, 429001…): the `DeviceTelemetry` category logs these. */
  | { readonly type: "telemetryRefused"; readonly time: number; readonly deviceId: string; readonly moduleId: string; readonly protocol: string; readonly partition: number; readonly sizeInBytes: number; readonly error: HubErrorName }
  /**
   * `error` set: the operation failed with it. `durationMs` on hub time. `messageSize`: bytes of the twin document a
   * `get` returned (set only when it succeeded), of the reported patch an `updateReported` carried.
   */
  | { readonly type: "twinOperation"; readonly time: number; readonly deviceId: string; readonly moduleId: string; readonly operation: "get" | "updateReported" | "notifyDesired"; readonly durationMs?: number; readonly messageSize?: number; readonly error?: HubErrorName }
  /** A back end read, patched or replaced a twin (`C2DTwinOperations`); `messageSize` is the JSON it sent or received. */
  | { readonly type: "serviceTwinOperation"; readonly time: number; readonly deviceId: string; readonly moduleId: string; readonly operation: "get" | "patch" | "replace"; readonly durationMs: number; readonly messageSize: number; readonly sdkVersion: string | undefined; readonly error?: HubErrorName }
  /** One page of `POST /devices/query` (`TwinQueries`). */
  | { readonly type: "twinQuery"; readonly time: number; readonly query: string; readonly durationMs: number; readonly messageSize: number; readonly pageSize: number; readonly continuation: boolean; readonly resultSize: number; readonly sdkVersion: string | undefined; readonly error?: HubErrorName }
  | { readonly type: "methodInvoked"; readonly time: number; readonly deviceId: string; readonly moduleId: string; readonly methodName: string; readonly outcome: "answered" | HubErrorName; readonly durationMs: number; readonly requestSize?: number; readonly responseSize?: number; readonly sdkVersion?: string | undefined }
  /** An identity registry operation that failed (`DeviceIdentityOperations` logs only failures). */
  | { readonly type: "identityOperationFailed"; readonly time: number; readonly deviceId: string; readonly moduleId: string; readonly operation: "get" | "create" | "update" | "delete"; readonly error: HubErrorName; readonly ipAddress: string | undefined }
  | { readonly type: "operationRefused"; readonly time: number; readonly deviceId: string; readonly moduleId: string; readonly protocol: string; readonly operation: string; readonly detail: string }
  /**
   * A hub throttle refused a call with 429001 ThrottlingException (HubLimits.admit), by the limits' operation name
   * (`d2cSend`, `twinRead`, `query`…); a shaped call that waited and went is not one. Only the throttling-errors metric
   * reads it: the operation's own event (`telemetryRefused`, `twinOperation`…) carries the 429001 to resource logs.
   * `deviceId`/`moduleId` are set when a device or module called.
   */
  | { readonly type: "operationThrottled"; readonly time: number; readonly operation: LimitedOperation; readonly protocol: string; readonly deviceId?: string; readonly moduleId?: string }
  | C2dEvent
  | FileUploadEvent;

export type HubEventListener = (event: HubEvent) => void;

/** Fan-out of hub events; a listener that throws is reported, never allowed to break the operation. */
export class HubEvents {
  readonly #listeners: HubEventListener[] = [];
  readonly #onError: (error: unknown) => void;

  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  on(listener: HubEventListener): void {
    this.#listeners.push(listener);
  }

  emit(event: HubEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#onError(error);
      }
    }
  }
}
