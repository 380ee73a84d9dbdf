/** The per-device cloud-to-device queues: send, receive, complete/reject/abandon, TTL, locks, feedback, purge. */
export {
  C2dQueue,
  C2D_DEFAULT_SETTINGS,
  C2D_LOCK_DURATION_MS,
  C2D_MAX_MESSAGE_BYTES,
  C2D_MAX_QUEUE_DEPTH,
  C2D_MAX_TTL_MS,
  type C2dPurgeResult,
  type C2dQueueDeps,
  type C2dSendInput,
  type C2dSendSystemProperties,
  type C2dSettings,
} from "./c2d-queue.js";
export {
  C2dFeedback,
  C2D_FEEDBACK_DEFAULT_SETTINGS,
  FEEDBACK_CONTENT_TYPE,
  renderFeedbackBody,
  type C2dFeedbackBatch,
  type C2dFeedbackDeps,
  type C2dFeedbackSettings,
} from "./c2d-feedback.js";
export type { C2dEvent, C2dEventSink } from "./c2d-events.js";
