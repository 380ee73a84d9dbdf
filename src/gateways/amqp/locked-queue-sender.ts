import { createHash } from "node:crypto";
import rhea, { type Delivery, type Message, type Sender } from "rhea";
import { HubError, isHubError, type CallContext } from "../../hub/index.js";
import { asHubError } from "./amqp-error.js";
import { dataBody } from "./amqp-message.js";
import { creditOf, type AmqpScope, type LinkFactory, type LinkHandler } from "./link-handler.js";

/** One item a receiver took from a hub queue, locked under its token until it is settled or the lock ends. */
export interface LockedItem {
  readonly lockToken: string;
  /** The bytes of the message's one `data` section. */
  readonly body: Buffer;
  /** Hub time (ms) for the `iothub-enqueuedtime` annotation. */
  readonly enqueuedTime: number;
  /** 1 on a first delivery. */
  readonly deliveryCount: number;
}

/** A service-bound hub queue (feedback, file notifications): receive under a lock, then complete, abandon or reject. */
export interface LockedQueue {
  /** What the queue holds, for logs. */
  readonly name: string;
  /** The message's content type, which the service SDKs check (service-protocol.md §4.5–4.6). */
  readonly contentType: string;
  receive(ctx: CallContext): Promise<LockedItem | undefined>;
  /** Completes, abandons or rejects the item locked under `lockToken`. */
  settle(ctx: CallContext, lockToken: string, settlement: Settlement): Promise<void>;
  /** Calls the listener whenever items may have become available; returns an unsubscribe. */
  onAvailable(listener: () => void): () => void;
}

export type Settlement = "complete" | "abandon" | "reject";

/**
 * The factory of a link on which the hub sends a locked queue to the back end (`/messages/serviceBound/feedback`,
 * `/messages/serviceBound/filenotifications`). The peer must be a receiver, with a policy token put on `$cbs` whose
 * policy grants ServiceConnect, the right IoT Hub requires for its service-facing endpoints (Learn, "Control access
 * to IoT Hub"). A receiver link has no per-message outcome that could carry a refusal, so it is refused at attach
 * with `amqp:unauthorized-access` (service-protocol.md §4.4); the core checks the right again on every operation.
 */
export function lockedQueueLink(queueOf: (scope: AmqpScope) => LockedQueue): LinkFactory {
  return (scope, link) => {
    if (!link.is_sender()) {
      throw new HubError("InvalidOperation", { message: "This address is a service-bound queue: a back end receives from it and sends nothing" });
    }
    const { caller, trackingId } = scope.serviceContext();
    if (caller.kind !== "policy" || !caller.rights.includes("ServiceConnect")) {
      const who = caller.kind === "policy" ? `Authorization rule '${caller.policyName}'` : "This caller";
      throw new HubError("IotHubUnauthorizedAccess", { trackingId, message: `${who} does not allow access for 'ServiceConnect'` });
    }
    return new LockedQueueSender(scope, link as Sender, queueOf(scope));
  };
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The delivery tag of a locked item: the lock token's 16 bytes, which the .NET service SDK turns back into its
 * LockToken GUID (service-protocol.md §4.5); a token that is no GUID is hashed to 16 bytes so the tag keeps that size.
 */
export function lockTokenTag(lockToken: string): Buffer {
  return GUID.test(lockToken) ? rhea.string_to_uuid(lockToken) : createHash("sha256").update(lockToken).digest().subarray(0, 16);
}

/**
 * Sends a locked queue while the peer grants credit, one message per locked item, and maps the peer's outcome to the
 * queue: accepted completes, rejected rejects (dead-letters), released or modified abandons. Items still unsettled
 * when the link goes are abandoned, so they come back at once instead of after the lock duration.
 *
 * azure-iothub receives with rhea's autoaccept, which disposes every delivery as accepted before the application sees
 * it; an app's later complete/abandon/reject sends a second disposition for the same delivery (service-protocol.md
 * §4.5). The first outcome is final and later ones are ignored, as on IoT Hub, where the first settlement removes the
 * lock.
 */
class LockedQueueSender implements LinkHandler {
  readonly #scope: AmqpScope;
  readonly #link: Sender;
  readonly #queue: LockedQueue;
  /** Deliveries sent and not yet disposed by the peer, with the lock token and the context that took the lock. */
  readonly #inFlight = new Map<Delivery, { readonly lockToken: string; readonly ctx: CallContext }>();
  readonly #unsubscribe: () => void;
  /** Deliveries handed to rhea on this link. */
  #sent = 0;
  #pulling = false;
  /** Something changed while a pull was running (items, credit): it looks again before it stops. */
  #again = false;
  #closed = false;

  constructor(scope: AmqpScope, link: Sender, queue: LockedQueue) {
    this.#scope = scope;
    this.#link = link;
    this.#queue = queue;
    this.#unsubscribe = queue.onAvailable(() => void this.#pull());
    // Items may be waiting already, and the peer's credit may have come with its attach.
    queueMicrotask(() => void this.#pull());
  }

  sendable(): void {
    void this.#pull();
  }

  outcome(delivery: Delivery, outcome: "accepted" | "rejected" | "released" | "modified"): void {
    const held = this.#inFlight.get(delivery);
    // A second disposition of a delivery already disposed (the SDK's autoaccept, then the app's call): ignored.
    if (held === undefined) return;
    this.#inFlight.delete(delivery);
    // Settled on our side too: the outcome is final, and a settled delivery frees its place in rhea's session buffer.
    if (!delivery.settled) delivery.update(true);
    const settlement: Settlement = outcome === "accepted" ? "complete" : outcome === "rejected" ? "reject" : "abandon";
    void this.#settle(settlement, held.lockToken, held.ctx);
  }

  closed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    const unsettled = [...this.#inFlight.values()];
    this.#inFlight.clear();
    for (const { lockToken, ctx } of unsettled) void this.#settle("abandon", lockToken, ctx);
  }

  async #pull(): Promise<void> {
    if (this.#closed) return;
    if (this.#pulling) {
      this.#again = true;
      return;
    }
    this.#pulling = true;
    try {
      do {
        this.#again = false;
        while (!this.#closed && this.#link.is_open() && this.#room() > 0) {
          // A fresh context per item: the token put on $cbs may have expired since the attach (401 ends the link below).
          const ctx = this.#scope.serviceContext();
          const item = await this.#queue.receive(ctx);
          if (item === undefined) break;
          if (this.#closed || !this.#link.is_open()) {
            await this.#settle("abandon", item.lockToken, ctx);
            break;
          }
          const delivery = this.#link.send(this.#message(item), lockTokenTag(item.lockToken));
          this.#sent++;
          this.#inFlight.set(delivery, { lockToken: item.lockToken, ctx });
        }
      } while (this.#again && !this.#closed);
    } catch (error) {
      const hubError = asHubError(error);
      if (hubError.spec.httpStatus === 401) {
        // The service's authorization ended (its token expired): IoT Hub detaches the link with 401.
        this.closed();
        this.#scope.refuse(this.#link, hubError);
      } else {
        this.#scope.logger.warn({ err: error, queue: this.#queue.name }, "Cannot deliver a service-bound queue over AMQP");
      }
    } finally {
      this.#pulling = false;
    }
  }

  /**
   * Credit the peer granted that no delivery has claimed yet. rhea takes credit only when it transfers a delivery, on
   * a later tick, so a pull that sent several items would otherwise lock more than the peer can take (each lock then
   * runs out while its message waits in rhea's buffer). The peer's limit is rhea's delivery count plus credit.
   */
  #room(): number {
    const link = this.#link as unknown as { delivery_count: number };
    return Math.min(creditOf(this.#link), link.delivery_count + creditOf(this.#link) - this.#sent);
  }

  /**
   * What IoT Hub puts on a feedback or file-notification message (service-protocol.md §4.5–4.6): the content type,
   * `user_id` = the hub name as binary, `iothub-enqueuedtime` (the .NET SDK fails without it), the lock token as
   * message id, the delivery count in the header (prior attempts, as AMQP counts them) and one `data` section.
   */
  #message(item: LockedItem): Message {
    // rhea types user_id as a string; IoT Hub sends binary, which rhea encodes from a Buffer.
    const message = {
      message_id: item.lockToken,
      content_type: this.#queue.contentType,
      user_id: Buffer.from(this.#scope.eventHubName, "utf8"),
      delivery_count: Math.max(item.deliveryCount - 1, 0),
      message_annotations: { "iothub-enqueuedtime": new Date(item.enqueuedTime) },
      body: dataBody(item.body),
    };
    return message as unknown as Message;
  }

  /** Settles under the context that took the lock (it held ServiceConnect then), with a tracking id of its own. */
  async #settle(settlement: Settlement, lockToken: string, ctx: CallContext): Promise<void> {
    try {
      await this.#queue.settle({ ...ctx, trackingId: this.#scope.hub.ids.trackingId() }, lockToken, settlement);
    } catch (error) {
      // 412002: the lock ended before the peer answered; the item was released already and is delivered again.
      if (isHubError(error)) this.#scope.logger.info({ err: error, queue: this.#queue.name }, "Late settlement of a service-bound message");
      else this.#scope.logger.error({ err: error, queue: this.#queue.name }, "Settling a service-bound message failed");
    }
  }
}
