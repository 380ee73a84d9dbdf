/** Device and module twin documents: the pure rules behind every twin read and write. */
export { newTwinRecord } from "./new-twin-record.js";
export { patchTwin } from "./patch-twin.js";
export { replaceTwin } from "./replace-twin.js";
export { patchReported } from "./patch-reported.js";
export { twinEtag } from "./twin-etag.js";
export { renderTwin, twinMatchView } from "./render-twin.js";
export { deviceTwinView } from "./device-twin-view.js";
export type { ServiceTwinWriteResult } from "./service-twin-write.js";
