import type { LinkAddress } from "./link-address.js";
import type { LinkFactory } from "./link-handler.js";
import { feedbackLink } from "./feedback-link.js";
import { fileNotificationLink } from "./file-notification-link.js";
import { serviceC2dLink } from "./service-c2d-link.js";

/** The back-end links of `azure-iothub`'s Client: C2D send, feedback and file notifications (service-protocol.md §4). */
export const SERVICE_LINK_FACTORIES: Partial<Record<LinkAddress["kind"], LinkFactory>> = {
  serviceC2d: serviceC2dLink,
  feedback: feedbackLink,
  fileNotifications: fileNotificationLink,
};
