import { FEEDBACK_CONTENT_TYPE, renderFeedbackBody } from "../../hub/index.js";
import { lockedQueueLink } from "./locked-queue-sender.js";

/**
 * `/messages/serviceBound/feedback` (service-protocol.md §4.5): one message per batch of up to 64 delivery-feedback
 * records, its body the JSON array the SDKs parse. A batch has no single enqueued time, so the message is stamped
 * when it is sent.
 */
export const feedbackLink = lockedQueueLink((scope) => {
  const feedback = scope.hub.feedback;
  return {
    name: "feedback",
    contentType: FEEDBACK_CONTENT_TYPE,
    receive: async (ctx) => {
      const batch = await feedback.receive(ctx);
      if (batch === undefined) return undefined;
      return { lockToken: batch.lockToken, body: renderFeedbackBody(batch.records), enqueuedTime: scope.now(), deliveryCount: batch.deliveryCount };
    },
    settle: (ctx, lockToken, settlement) => feedback[settlement](ctx, lockToken),
    onAvailable: (listener) => feedback.onAvailable(listener),
  };
});
