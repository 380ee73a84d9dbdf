import rhea, { type Message, type Receiver, type Sender, type Session } from "rhea";
import { HubError, isHubError, type CallContext } from "../../hub/index.js";
import { asHubError } from "./amqp-error.js";
import { parseLinkAddress } from "./link-address.js";
import { asSender, type AmqpScope, type LinkFactory } from "./link-handler.js";

const EVENT_HUB_TYPE = "com.microsoft:eventhub";
const PARTITION_TYPE = "com.microsoft:partition";
/** What Event Hubs answers for a partition id the entity does not have; the SDK raises ArgumentOutOfRangeError. */
const OUT_OF_RANGE = "com.microsoft:argument-out-of-range";

interface Reply {
  readonly status: number;
  readonly description: string;
  readonly condition?: string;
  readonly body: unknown;
}

/**
 * `$management` on the Event Hub-compatible endpoint (service-protocol.md §5.4, §11.4). The client attaches a sender
 * (our receiver) for requests and a receiver (our sender) named after its `reply_to` for replies; only READ of the
 * entity and of a partition exist, which is what @azure/event-hubs' getEventHubProperties / getPartitionIds /
 * getPartitionProperties send.
 */
export const managementLink: LinkFactory = (scope, link) => {
  // The reply link needs no handler: replies are sent on it by name, in the requester's session.
  if (link.is_sender()) return {};
  const receiver = link as Receiver;
  return { message: (_delivery, message) => void answer(scope, receiver, message) };
};

async function answer(scope: AmqpScope, receiver: Receiver, request: Message): Promise<void> {
  const props = (request.application_properties ?? {}) as Record<string, unknown>;
  const trackingId = scope.hub.ids.trackingId();
  let reply: Reply;
  try {
    reply = await read(scope, props, trackingId);
  } catch (error) {
    const hubError = asHubError(error);
    if (!isHubError(error)) scope.logger.error({ err: error }, "$management request failed");
    reply = {
      status: hubError.spec.httpStatus,
      description: hubError.message,
      condition: hubError.spec.amqpCondition,
      body: null,
    };
  }
  const replyTo = typeof request.reply_to === "string" ? request.reply_to : "";
  const sender = replyLink(receiver.session, replyTo);
  if (sender === undefined || !sender.is_open()) {
    scope.logger.info({ replyTo }, "$management request with no reply link in its session; dropped");
    return;
  }
  const applicationProperties: Record<string, unknown> = { "status-code": rhea.types.wrap_int(reply.status), "status-description": reply.description };
  // With an explicit condition the SDK picks the error class from it instead of from the status code.
  if (reply.condition !== undefined) applicationProperties["error-condition"] = reply.condition;
  sender.send({
    // The SDK matches replies by correlation id only, and reuses the message id when it retries (§11.4).
    correlation_id: request.message_id,
    ...(replyTo === "" ? {} : { to: replyTo }),
    application_properties: applicationProperties,
    body: reply.body,
  } as Message);
}

/**
 * The link the reply goes on: the requester's session's link named `reply_to` (the SDK names its receiver so), else
 * one whose target address is `reply_to`, else that session's `$management`-sourced link.
 */
function replyLink(session: Session, replyTo: string): Sender | undefined {
  const links = (session as unknown as { links: Record<string, Sender | Receiver> }).links;
  const all = Object.values(links);
  return (
    asSender(links[replyTo]) ??
    asSender(all.find((l) => l.is_sender() && replyTo !== "" && (l.target as { address?: unknown } | undefined)?.address === replyTo)) ??
    asSender(all.find((l) => l.is_sender() && parseLinkAddress((l.source as { address?: unknown } | undefined)?.address).kind === "management"))
  );
}

/** The reply to a READ: a map body with the AMQP types Event Hubs uses (§11.4: ints, longs, timestamps, a string array). */
async function read(scope: AmqpScope, props: Record<string, unknown>, trackingId: string): Promise<Reply> {
  authorize(scope, props["security_token"], trackingId);
  const operation = String(props["operation"] ?? "");
  if (operation.toUpperCase() !== "READ") {
    throw new HubError("ArgumentInvalid", { trackingId, message: `The $management operation '${operation}' is not supported; only READ is` });
  }
  const name = String(props["name"] ?? "");
  const eventHub = scope.hub.eventHub;
  if (name.toLowerCase() !== scope.eventHubName.toLowerCase()) {
    throw new HubError("NotFound", { trackingId, message: `The messaging entity '${name}' could not be found; this endpoint serves '${scope.eventHubName}'` });
  }
  const type = String(props["type"] ?? "").toLowerCase();
  if (type === EVENT_HUB_TYPE) {
    const properties = eventHub.properties();
    return ok({
      name: properties.name,
      type: EVENT_HUB_TYPE,
      created_at: new Date(properties.createdAt),
      partition_count: rhea.types.wrap_int(properties.partitionIds.length),
      partition_ids: rhea.types.wrap_array(properties.partitionIds, 0xa1, undefined),
    });
  }
  if (type === PARTITION_TYPE) {
    const partitionId = String(props["partition"] ?? "");
    let p;
    try {
      p = await eventHub.partitionProperties(partitionId, trackingId);
    } catch (error) {
      // An unknown partition id is out of range in Event Hubs' words (404 + that condition → ArgumentOutOfRangeError).
      if (isHubError(error) && error.errorName === "ArgumentInvalid") return { status: 404, description: error.message, condition: OUT_OF_RANGE, body: null };
      throw error;
    }
    return ok({
      name: p.name,
      type: PARTITION_TYPE,
      partition: p.partitionId,
      begin_sequence_number: rhea.types.wrap_long(p.beginningSequenceNumber),
      last_enqueued_sequence_number: rhea.types.wrap_long(p.lastEnqueuedSequenceNumber),
      // A string, as Event Hubs sends it; the SDK passes it through as `lastEnqueuedOffset`.
      last_enqueued_offset: p.lastEnqueuedOffset,
      last_enqueued_time_utc: new Date(p.lastEnqueuedTimeUtc),
      is_partition_empty: p.isEmpty,
    });
  }
  throw new HubError("ArgumentInvalid", { trackingId, message: `The $management type '${String(props["type"] ?? "")}' is not supported; use '${EVENT_HUB_TYPE}' or '${PARTITION_TYPE}'` });
}

function ok(body: Record<string, unknown>): Reply {
  return { status: 200, description: "OK", body };
}

/**
 * A request is authorized by its own `security_token` (the SDK signs one for `sb://host/{entity}`) or, failing that,
 * by a token put on `$cbs` that covers `{entity}/$management` — the SDK puts one before it sends anything here.
 */
function authorize(scope: AmqpScope, securityToken: unknown, trackingId: string): CallContext {
  let tokenError: unknown;
  if (typeof securityToken === "string" && securityToken !== "") {
    try {
      const result = scope.hub.eventHubAuth.authenticate(securityToken, `sb://${scope.hub.hostName}/${scope.eventHubName}/$management`, trackingId);
      return { caller: result.caller, protocol: "amqp", trackingId };
    } catch (error) {
      tokenError = error;
    }
  }
  try {
    return scope.eventHubContext(`${scope.eventHubName}/$management`);
  } catch (error) {
    throw tokenError ?? error;
  }
}
