import type { CallContext, Hub } from "../../hub/index.js";
import type { Logger } from "../../observability/logger.js";
import type { Delivery, EventContext, Message, Receiver, Sender } from "rhea";
import type { LinkAddress } from "./link-address.js";
import type { HubError } from "../../hub/index.js";

/** What happens on one attached link; the connection routes rhea's events to the handler of their link. */
export interface LinkHandler {
  /** A message arrived on a link where the hub receives. */
  message?(delivery: Delivery, message: Message): void;
  /** The peer settled (or reported the outcome of) a delivery the hub sent. */
  outcome?(delivery: Delivery, outcome: "accepted" | "rejected" | "released" | "modified"): void;
  /** The peer granted credit: the hub may send more. */
  sendable?(): void;
  /** The link is gone (detached by either side, or the connection ended). */
  closed?(): void;
}

/** What a link handler factory may use of its connection. */
export interface AmqpScope {
  readonly hub: Hub;
  readonly logger: Logger;
  /** A call context for a back-end link: the policy token put on `$cbs` for the hub (throws 401 without one). */
  serviceContext(): CallContext;
  /** A call context for the Event Hub-compatible endpoint: a valid token whose audience covers `path` (`{entity}/…`). */
  eventHubContext(path: string): CallContext;
  /** The hub's entity name on the Event Hub-compatible endpoint. */
  readonly eventHubName: string;
  /** Detaches `link` with IoT Hub's AMQP form of `error` (attach answered first, as IoT Hub does). */
  refuse(link: Sender | Receiver, error: HubError): void;
  /** Time on the hub clock, for error timestamps. */
  now(): number;
}

/** Builds the handler of a newly attached link, or throws a HubError to refuse it. */
export type LinkFactory = (scope: AmqpScope, link: Sender | Receiver, address: LinkAddress, context: EventContext) => LinkHandler;

/** `link` as a sender, if it is one (rhea's `is_sender()` is no type guard). */
export function asSender(link: Sender | Receiver | undefined): Sender | undefined {
  return link !== undefined && link.is_sender() ? (link as Sender) : undefined;
}

/** Link credit the peer granted and the hub has not used yet. */
export function creditOf(sender: Sender): number {
  return (sender as unknown as { credit: number }).credit;
}
