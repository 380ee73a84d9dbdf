import type { Delivery, Message } from "rhea";
import { HubError, isHubError, type C2dSendInput } from "../../hub/index.js";
import { asHubError, toAmqpError } from "./amqp-error.js";
import { bodyBytes, stringProperties, timeMs } from "./amqp-message.js";
import { parseLinkAddress } from "./link-address.js";
import type { AmqpScope, LinkFactory } from "./link-handler.js";
import { sentSystemProperties } from "./message-system-properties.js";

/**
 * `/messages/devicebound` from the back end's side: azure-iothub's Client sends every cloud-to-device message on this
 * one link, addressed by `properties.to` (service-protocol.md §4.3). The hub is the receiver; rhea grants the link a
 * credit window of its own (1000), so the SDK's send() never waits for credit.
 */
export const serviceC2dLink: LinkFactory = (scope, link) => {
  if (link.is_sender()) {
    throw new HubError("InvalidOperation", { message: "'/messages/devicebound' is where a back end sends cloud-to-device messages; IoT Hub sends nothing on it" });
  }
  // Only the token is required here; a policy without ServiceConnect has each message rejected with 401 by the core.
  // azure-iothub reports that rejection as UnauthorizedError and keeps its connection, whereas a link detached with
  // an error makes it tear the whole connection down, and a send issued meanwhile waits out its 45 s rundown.
  scope.serviceContext();
  return { message: (delivery, message) => void enqueue(scope, delivery, message) };
};

/**
 * One message: accepted once it is durably queued for the device, otherwise rejected with the catalog's condition
 * (403004 → amqp:resource-limit-exceeded, 404001 → amqp:not-found, 413001 → amqp:link:message-size-exceeded), which
 * the SDK turns into its error classes. Never released or modified: the SDK reports `released` as a success and never
 * answers `modified` (service-protocol.md §4.4).
 */
async function enqueue(scope: AmqpScope, delivery: Delivery, message: Message): Promise<void> {
  let trackingId: string | undefined;
  try {
    // Per message, not just at attach: the token put on $cbs may have expired since (IoT Hub then answers 401).
    const ctx = scope.serviceContext();
    trackingId = ctx.trackingId;
    // Called before any await, so messages reach the device's queue in the order they arrived on the link.
    await scope.hub.c2d.send(ctx, c2dInput(message, ctx.trackingId));
    delivery.accept();
  } catch (error) {
    const hubError = asHubError(error);
    if (!isHubError(error)) scope.logger.error({ err: error }, "Cloud-to-device send over AMQP failed");
    delivery.reject(toAmqpError(hubError, trackingId ?? scope.hub.ids.trackingId(), scope.now()));
  }
}

/** The message as the core takes it; `to` names the device as `/devices/{url-encoded id}/messages/devicebound`. */
function c2dInput(message: Message, trackingId: string): C2dSendInput {
  const to = typeof message.to === "string" ? parseLinkAddress(message.to) : undefined;
  // IoT Hub has no cloud-to-device queue for modules, so a module address is as invalid as a missing one.
  if (to?.kind !== "c2d" || to.moduleId !== "") {
    throw new HubError("ArgumentInvalid", {
      trackingId,
      message: `The message's 'to' property ('${String(message.to ?? "")}') must be /devices/{deviceId}/messages/devicebound`,
    });
  }
  const properties = stringProperties(message.application_properties);
  // The SDK carries the feedback request among the application properties; the core keeps it as a system property.
  const ack = properties["iothub-ack"];
  delete properties["iothub-ack"];
  const systemProperties = { ...sentSystemProperties(message), ...(ack === undefined || ack === "" ? {} : { ack }) };
  const expiry = timeMs(message.absolute_expiry_time);
  return {
    deviceId: to.deviceId,
    body: bodyBytes(message),
    properties,
    systemProperties,
    ...(expiry === undefined ? {} : { expiryTimeUtc: expiry }),
  };
}
