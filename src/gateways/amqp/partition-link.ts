import type { AmqpError, Sender } from "rhea";
import { HubError, isHubError, type CallContext, type PartitionReader, type TelemetryRecord } from "../../hub/index.js";
import { asHubError } from "./amqp-error.js";
import { eventHubError } from "./event-hub-error.js";
import { eventMessage } from "./event-message.js";
import type { LinkAddress } from "./link-address.js";
import { creditOf, type AmqpScope, type LinkFactory, type LinkHandler } from "./link-handler.js";

const SELECTOR_FILTER = "apache.org:selector-filter:string";
const EPOCH = "com.microsoft:epoch";
const RECEIVER_NAME = "com.microsoft:receiver-name";
const RUNTIME_METRIC = "com.microsoft:enable-receiver-runtime-metric";
/** Event Hubs' condition for a partition id the entity does not have (the SDK raises ArgumentOutOfRangeError). */
const OUT_OF_RANGE = "com.microsoft:argument-out-of-range";
/** An epoch conflict: the SDK reports ReceiverDisconnectedError and closes with OwnershipLost, never retrying (§11.8). */
const STOLEN = "amqp:link:stolen";

type PartitionAddress = Extract<LinkAddress, { kind: "partition" }>;

/** A value of the attach that rhea may hand over wrapped (a described or typed value keeps its content in `.value`). */
function unwrapped(raw: unknown): unknown {
  if (raw !== null && typeof raw === "object" && !Buffer.isBuffer(raw) && "value" in raw) return (raw as { value: unknown }).value;
  return raw;
}

/**
 * The `apache.org:selector-filter:string` expression: a described value (descriptor 0x468C00000004) whose content is
 * the expression text (service-protocol.md §5.5). No filter: Event Hubs starts at the beginning of the stream.
 */
function filterOf(source: unknown, trackingId: string): string | undefined {
  const filters = (source as { filter?: unknown } | null | undefined)?.filter;
  if (filters === null || typeof filters !== "object") return undefined;
  const raw = (filters as Record<string, unknown>)[SELECTOR_FILTER];
  if (raw === undefined || raw === null) return undefined;
  const value = unwrapped(raw);
  if (typeof value !== "string") throw new HubError("ArgumentInvalid", { trackingId, message: `The '${SELECTOR_FILTER}' filter must hold a string expression` });
  return value;
}

/** `com.microsoft:epoch` (a long; absent for a non-epoch receiver). A long beyond 2^53 arrives from rhea as 8 bytes. */
function epochOf(properties: unknown): number | undefined {
  const raw = unwrapped((properties as Record<string, unknown> | null | undefined)?.[EPOCH]);
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === "number") return raw;
  if (typeof raw === "bigint") return Number(raw);
  if (Buffer.isBuffer(raw) && raw.length === 8) return Number(raw.readBigInt64BE());
  // Anything else is refused by claim() as not an integer.
  return Number.NaN;
}

function capabilitiesOf(value: unknown): string[] {
  if (typeof value === "string") return [value];
  return Array.isArray(value) ? value.map((v) => String(unwrapped(v))) : [];
}

/**
 * The session's outgoing queue, as rhea keeps it. rhea takes credit only when it writes a transfer, so a delivery
 * queued by `send()` holds credit that `sender.credit` does not show yet (service-protocol.md §11.11): the deliveries
 * of this link with an id at or past `next_pending_delivery` are still waiting.
 */
interface Outgoing {
  readonly next_pending_delivery: number;
  available(): number;
}

/**
 * A partition receiver on the Event Hub-compatible endpoint (`{entity}/ConsumerGroups/{cg}/Partitions/{p}`,
 * service-protocol.md §5.5–5.7, §11.5–11.8): authorized by a token put on `$cbs` for that address, registered under
 * Event Hubs' epoch rules, started where the selector filter says, and fed from the partition as the client grants
 * credit — never past it, and without polling: an empty partition waits for the reader's append notification.
 */
class PartitionReceiver implements LinkHandler {
  readonly #scope: AmqpScope;
  readonly #sender: Sender;
  readonly #address: PartitionAddress;
  readonly #trackingId: string;
  readonly #runtimeMetric: boolean;
  #release: (() => void) | undefined;
  #reader: PartitionReader | undefined;
  #unsubscribe: (() => void) | undefined;
  /** Events read from the log but not sent yet (the client lowered its credit while they were being read). */
  readonly #backlog: TelemetryRecord[] = [];
  /** Ids of this link's deliveries that rhea has queued but not written yet. */
  readonly #queued: number[] = [];
  #pumping = false;
  #again = false;
  #closed = false;

  constructor(scope: AmqpScope, sender: Sender, address: PartitionAddress) {
    this.#scope = scope;
    this.#sender = sender;
    this.#address = address;
    const hub = scope.hub;
    this.#trackingId = hub.ids.trackingId();
    const trackingId = this.#trackingId;
    if (address.entity.toLowerCase() !== scope.eventHubName.toLowerCase()) {
      throw new HubError("NotFound", { trackingId, message: `The messaging entity '${address.entity}' could not be found; this endpoint serves '${scope.eventHubName}'` });
    }
    // The SDK puts a token for exactly this address before every attach (§11.3); a token for the entity covers it too.
    const ctx = scope.eventHubContext(`${address.entity}/ConsumerGroups/${address.consumerGroup}/Partitions/${address.partitionId}`);
    if (!hub.eventHub.partitionIds.includes(address.partitionId)) {
      throw new OutOfRange(`The specified partition '${address.partitionId}' is invalid for an EventHub partition sender or receiver. It should be between 0 and ${hub.eventHub.partitionCount - 1}.`);
    }
    // Events go out pre-settled (snd-settle-mode settled), which the SDK supports (§11.6): it then sends no
    // dispositions, so a client closing mid-stream cannot send one after its session `end`, which rhea treats as a
    // protocol error that drops the connection and leaves the client's close() hanging.
    (sender as unknown as { local: { attach: { snd_settle_mode: number } } }).local.attach.snd_settle_mode = 1;
    const filter = filterOf(sender.source, trackingId);
    this.#runtimeMetric = capabilitiesOf(sender.desired_capabilities).includes(RUNTIME_METRIC);
    if (this.#runtimeMetric) {
      // Event Hubs offers back the capabilities it honours; the SDK does not look, but other clients may.
      (sender as unknown as { local: { attach: { offered_capabilities?: unknown } } }).local.attach.offered_capabilities = [RUNTIME_METRIC];
    }
    const properties = sender.properties as Record<string, unknown> | undefined;
    const receiverName = unwrapped(properties?.[RECEIVER_NAME]);
    this.#release = hub.eventHub.claim({
      consumerGroup: address.consumerGroup,
      partitionId: address.partitionId,
      epoch: epochOf(properties),
      ...(typeof receiverName === "string" ? { receiverName } : {}),
      onStolen: (message) => this.#detach(eventHubError(STOLEN, message, this.#trackingId, hub.clock.now())),
      onRevoked: (error) => this.#fail(error),
      trackingId,
    });
    void this.#open(ctx, filter);
  }

  sendable(): void {
    void this.#pump();
  }

  closed(): void {
    this.#cleanup();
  }

  async #open(ctx: CallContext, filter: string | undefined): Promise<void> {
    try {
      const reader = await this.#scope.hub.eventHub.openReader(ctx, {
        consumerGroup: this.#address.consumerGroup,
        partitionId: this.#address.partitionId,
        filter,
      });
      if (this.#closed) {
        reader.close();
        return;
      }
      this.#reader = reader;
      this.#unsubscribe = reader.onAvailable(() => void this.#pump());
      await this.#pump();
    } catch (error) {
      this.#fail(asHubError(error));
    }
  }

  /** Sends what credit allows; a call while one runs makes that one go round again, so no wake-up is lost. */
  async #pump(): Promise<void> {
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#again = false;
        await this.#deliver();
      } while (this.#again && !this.#closed);
    } catch (error) {
      this.#fail(asHubError(error));
    } finally {
      this.#pumping = false;
    }
  }

  async #deliver(): Promise<void> {
    const hub = this.#scope.hub;
    for (;;) {
      const reader = this.#reader;
      if (this.#closed || reader === undefined || !this.#sender.is_open()) return;
      // No credit: the client's next flow raises `sendable`.
      if (this.#room() <= 0) return;
      if (this.#backlog.length === 0) {
        const records = await reader.next(this.#room());
        // Nothing yet: the reader's append notification calls #pump again.
        if (records.length === 0) return;
        this.#backlog.push(...records);
      }
      const runtime = this.#runtimeMetric ? { partition: await hub.eventHub.partitionProperties(this.#address.partitionId, this.#trackingId), retrievedAt: hub.clock.now() } : undefined;
      if (this.#closed || !this.#sender.is_open()) return;
      // Credit is counted again after the awaits: a flow may have lowered it meanwhile.
      for (const record of this.#backlog.splice(0, Math.max(this.#room(), 0))) {
        const delivery = this.#sender.send(eventMessage(record, this.#scope.eventHubName, runtime));
        this.#queued.push(delivery.id);
      }
    }
  }

  /** How many more deliveries the credit allows, counting those rhea still holds (and its session buffer). */
  #room(): number {
    const outgoing = (this.#sender.session as unknown as { outgoing: Outgoing }).outgoing;
    while (this.#queued.length > 0 && this.#queued[0]! < outgoing.next_pending_delivery) this.#queued.shift();
    return Math.min(creditOf(this.#sender) - this.#queued.length, outgoing.available());
  }

  #fail(error: HubError): void {
    if (error.errorName === "ServerError") this.#scope.logger.error({ err: error.cause ?? error }, "Event Hubs partition receiver failed");
    this.#detach(eventHubError(error.spec.amqpCondition, error.message, error.trackingId ?? this.#trackingId, this.#scope.now()));
  }

  /** Detaches the link (closed=true with the error), which the client answers with its own detach. */
  #detach(error: AmqpError): void {
    if (this.#closed) return;
    this.#scope.logger.info({ link: this.#sender.name, condition: error.condition }, "Event Hubs partition receiver detached");
    this.#cleanup();
    if (!this.#sender.is_closed()) this.#sender.close(error);
  }

  #cleanup(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release?.();
    this.#unsubscribe?.();
    this.#reader?.close();
    this.#backlog.length = 0;
  }
}

/** An unknown partition id: Event Hubs' own condition, which the catalog has no entry for. */
class OutOfRange extends Error {}

/**
 * Attaches a partition receiver. Refusals answer the attach and then detach it with Event Hubs' condition — the
 * client ignores the attach reply's content, so only the detach tells it (§11.5).
 */
export const partitionLink: LinkFactory = (scope, link, address) => {
  const trackingId = scope.hub.ids.trackingId();
  try {
    if (address.kind !== "partition") throw new HubError("ServerError", { trackingId, message: `Not a partition address: ${address.kind}` });
    if (!link.is_sender()) {
      throw new HubError("InvalidOperation", { trackingId, message: "A consumer group partition can only be received from; send events to the IoT hub's device endpoints" });
    }
    return new PartitionReceiver(scope, link as Sender, address);
  } catch (error) {
    const refusal =
      error instanceof OutOfRange
        ? eventHubError(OUT_OF_RANGE, error.message, trackingId, scope.now())
        : (() => {
            const hubError = asHubError(error);
            if (!isHubError(error)) scope.logger.error({ err: error }, "Event Hubs partition attach failed");
            return eventHubError(hubError.spec.amqpCondition, hubError.message, hubError.trackingId ?? trackingId, scope.now());
          })();
    scope.logger.info({ link: link.name, condition: refusal.condition }, "Event Hubs partition receiver refused");
    link.close(refusal);
    return {};
  }
};
