import type { HubErrorName } from "../errors/index.js";
import type { C2dEvent } from "../c2d/c2d-events.js";
import type { FileUploadEvent } from "../file-upload/file-upload-events.js";

/**
 * What happened in the hub, for resource logs, metrics and the dashboard (issue #6 turns these into Azure Monitor
 * records). Every event carries the hub time it happened at.
 */
export type HubEvent =
  | { readonly type: "deviceConnected"; readonly time: number; readonly deviceId: string; readonly moduleId: string; readonly protocol: string; readonly authMethod: string }
  | { readonly type: "deviceDisconnected"; readonly time: number; readonly deviceId: string; readonly moduleId: string; readonly protocol: string; readonly reason: HubErrorName | "ClientDisconnect"; readonly code: number | undefined }
  | { readonly type: "connectionRefused"; readonly time: number; readonly deviceId: string; readonly moduleId: string; readonly protocol: string; readonly error: HubErrorName }
  | { readonly type: "telemetryAccepted"; readonly time: number; readonly deviceId: string; readonly moduleId: string; readonly partition: number; readonly sizeInBytes: number }
  | { readonly type: "twinOperation"; readonly time: number; readonly deviceId: string; readonly moduleId: string; readonly operation: "get" | "updateReported" | "notifyDesired" }
  | { readonly type: "methodInvoked"; readonly time: number; readonly deviceId: string; readonly moduleId: string; readonly methodName: string; readonly outcome: "answered" | HubErrorName; readonly durationMs: number }
  | { readonly type: "operationRefused"; readonly time: number; readonly deviceId: string; readonly moduleId: string; readonly protocol: string; readonly operation: string; readonly detail: string }
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
