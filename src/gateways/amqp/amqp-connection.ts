import type { X509Certificate } from "node:crypto";
import rhea, { type Connection, type Delivery, type EventContext, type Message, type Receiver, type Sender, type Session } from "rhea";
import { HubError, isDropFault, isHubError, type CallContext, type Hub, type HubErrorName, type PolicyCaller } from "../../hub/index.js";
import type { Logger } from "../../observability/logger.js";
import { asHubError, toAmqpError } from "./amqp-error.js";
import { AmqpDevice } from "./amqp-device.js";
import { identityOfAudience, parseLinkAddress, type LinkAddress } from "./link-address.js";
import { asSender, type AmqpScope, type LinkFactory, type LinkHandler } from "./link-handler.js";

export interface AmqpConnectionDeps {
  readonly hub: Hub;
  readonly logger: Logger;
  /** Handlers of the back-end links (C2D send, feedback, file notifications) and the Event Hub-compatible endpoint. */
  readonly factories: Partial<Record<LinkAddress["kind"], LinkFactory>>;
  readonly eventHubName: string;
}

interface Grant<C> {
  readonly caller: C;
  readonly expiresAt: number;
}

function keyOf(identity: { deviceId: string; moduleId: string }): string {
  return `${identity.deviceId}/${identity.moduleId}`;
}

/** Path of an Event Hubs audience without `sb://host[:port]/`, lower-cased: what a token covers. */
function audiencePath(audience: string): string {
  return audience.replace(/^sb:\/\/[^/]*\/?/i, "").replace(/\/+$/, "").toLowerCase();
}

/**
 * One AMQP connection (TLS on 5671 or WebSocket on 443): CBS put-token, the identities authenticated on it, and
 * routing of every link to its handler by address. The official SDKs open one session carrying every link; CBS
 * replies go out on the requester's session (service-protocol.md §4.2, §5.3).
 */
export class AmqpConnection implements AmqpScope {
  readonly hub: Hub;
  readonly logger: Logger;
  readonly eventHubName: string;
  readonly #deps: AmqpConnectionDeps;
  readonly #connection: Connection;
  readonly #peerChain: readonly X509Certificate[];
  readonly #handlers = new Map<Sender | Receiver, LinkHandler>();
  readonly #devices = new Map<string, AmqpDevice>();
  /** Device identities being authenticated (CBS or X.509), so two links of one device share one presence entry. */
  readonly #pending = new Map<string, Promise<AmqpDevice>>();
  /**
   * Device links whose identity is still connecting (X.509: authenticated on the link's attach). rhea answers the
   * attach and grants credit at once, so the device may send before the link has its handler; those messages wait
   * here for it instead of being refused.
   */
  readonly #attaching = new Map<Sender | Receiver, Promise<void>>();
  #service: Grant<PolicyCaller> | undefined;
  readonly #eventHub = new Map<string, Grant<PolicyCaller>>();
  #closed = false;

  /** The peer's IP address, and the SDK's user agent once a link has carried it; for resource logs. */
  readonly #client: { ipAddress: string | undefined; sdkVersion: string | undefined };

  constructor(deps: AmqpConnectionDeps, connection: Connection, peerChain: readonly X509Certificate[], ipAddress?: string) {
    this.#client = { ipAddress, sdkVersion: undefined };
    this.#deps = deps;
    this.hub = deps.hub;
    this.logger = deps.logger;
    this.eventHubName = deps.eventHubName;
    this.#connection = connection;
    this.#peerChain = peerChain;
  }

  now(): number {
    return this.hub.clock.now();
  }

  // ---- rhea events (routed here by the gateway) ----

  linkOpened(link: Sender | Receiver, context: EventContext): void {
    if (this.#closed) return;
    // The device SDKs put their user agent on every link they attach, $cbs included (azure-iot-amqp-base).
    const clientVersion = (link as unknown as { properties?: Record<string, unknown> }).properties?.["com.microsoft:client-version"];
    if (typeof clientVersion === "string") this.#client.sdkVersion = clientVersion;
    const remote = link.is_sender() ? link.source : link.target;
    const address = parseLinkAddress((remote as { address?: unknown } | undefined)?.address);
    // IoT Hub echoes the peer's terminus in its attach; the SDKs wait for it before using the link.
    link.set_source(link.source ?? {});
    link.set_target(link.target ?? {});
    if (address.kind === "cbs") {
      if (link.is_receiver()) this.#handlers.set(link, { message: (delivery, message) => void this.#putToken(link.session, delivery, message) });
      return;
    }
    if (address.kind === "d2c" || address.kind === "c2d" || address.kind === "methods" || address.kind === "twin") {
      const attached = this.#attachDevice(link, address, context)
        .catch((error: unknown) => this.logger.error({ err: error }, "AMQP device link attach failed"))
        .finally(() => this.#attaching.delete(link));
      this.#attaching.set(link, attached);
      return;
    }
    const factory = address.kind === "unknown" ? undefined : this.#deps.factories[address.kind];
    if (factory === undefined) {
      const text = address.kind === "unknown" ? address.address : address.kind;
      // IoT Hub answers an address it does not serve with amqp:not-found (a 404006 capture, edgehub-server-notes.md §2.2).
      return this.refuse(link, new HubError("NotFound", { message: `The link address '${text}' did not match any of the expected formats` }));
    }
    try {
      this.#handlers.set(link, factory(this, link, address, context));
    } catch (error) {
      this.refuse(link, asHubError(error));
    }
  }

  message(link: Receiver, delivery: Delivery, message: Message): void {
    const handler = this.#handlers.get(link);
    const attaching = handler === undefined ? this.#attaching.get(link) : undefined;
    if (attaching !== undefined) {
      this.logger.debug({ link: link.name }, "AMQP message held until its link's identity has connected");
      // Later messages chain on the same promise, so they are handled in the order they came.
      return void attaching.then(() => this.message(link, delivery, message));
    }
    if (handler?.message === undefined) {
      // A message on a link with no handler (e.g. sent before its attach was answered): refused, never lost silently.
      delivery.reject({ condition: "amqp:not-allowed", description: "This link does not accept messages" });
      return;
    }
    handler.message(delivery, message);
  }

  outcome(link: Sender, delivery: Delivery, outcome: "accepted" | "rejected" | "released" | "modified"): void {
    this.#handlers.get(link)?.outcome?.(delivery, outcome);
  }

  sendable(link: Sender): void {
    this.#handlers.get(link)?.sendable?.();
  }

  linkClosed(link: Sender | Receiver): void {
    const handler = this.#handlers.get(link);
    this.#handlers.delete(link);
    handler?.closed?.();
  }

  /** The connection is gone (socket closed, peer closed, or the hub closed it). */
  ended(reason?: HubErrorName): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const [link, handler] of this.#handlers) {
      this.#handlers.delete(link);
      handler.closed?.();
    }
    for (const device of this.#devices.values()) device.ended(reason);
    this.#devices.clear();
  }

  // ---- AmqpScope ----

  serviceContext(): CallContext {
    const grant = this.#service;
    const trackingId = this.hub.ids.trackingId();
    if (grant === undefined) {
      throw new HubError("IotHubUnauthorizedAccess", { trackingId, message: "No valid shared access policy token was put on $cbs for this IoT hub" });
    }
    if (grant.expiresAt <= Date.now()) throw new HubError("IotHubUnauthorized", { trackingId, message: "The token put on $cbs has expired; put a new one" });
    return { caller: grant.caller, protocol: "amqp", trackingId };
  }

  eventHubContext(path: string): CallContext {
    const trackingId = this.hub.ids.trackingId();
    const wanted = path.toLowerCase().split("/");
    const now = Date.now();
    for (const [covered, grant] of this.#eventHub) {
      const segments = covered.split("/");
      if (grant.expiresAt > now && segments.every((s, i) => s === wanted[i])) return { caller: grant.caller, protocol: "amqp", trackingId };
    }
    throw new HubError("IotHubUnauthorizedAccess", { trackingId, message: `No valid token was put on $cbs for the audience '${path}'` });
  }

  refuse(link: Sender | Receiver, error: HubError): void {
    this.logger.info({ err: error, link: link.name }, "AMQP link refused");
    if (!link.is_open()) link.set_source(link.source ?? {});
    link.close(toAmqpError(error, this.hub.ids.trackingId(), this.now()));
    this.#handlers.delete(link);
  }

  /**
   * Closes the whole connection. Device SDKs get their socket closed: after a `close` frame the Node SDK waits 45 s
   * for detach replies before it reports anything (device-protocol.md §3.8). Event Hubs readers get `close` with
   * amqp:connection:forced, the only condition after which they reconnect cleanly (service-protocol.md §11.9).
   */
  close(reason: HubErrorName): void {
    if (this.#closed) return;
    if (this.#eventHub.size > 0) {
      const error = toAmqpError(new HubError(reason), this.hub.ids.trackingId(), this.now());
      this.#connection.close({ ...error, condition: "amqp:connection:forced" });
    }
    this.ended(reason);
    // rhea's abort_socket ends the socket and its own timers (a bare destroy would leave its idle timer running).
    const connection = this.#connection as unknown as { socket?: unknown; abort_socket(socket: unknown): void };
    const socket = connection.socket;
    setImmediate(() => connection.abort_socket(socket));
  }

  // ---- CBS ----

  /**
   * `$cbs` put-token (device-protocol.md §3.2, service-protocol.md §4.2, §5.3): the reply carries `correlation_id` =
   * the request's message id and an int `status-code`; it goes on the session's link named by `reply_to`, or else
   * the session's `$cbs`-sourced link (the IoT SDKs say "cbs" but name their link otherwise).
   */
  async #putToken(session: Session, delivery: Delivery, request: Message): Promise<void> {
    delivery.accept();
    const props = (request.application_properties ?? {}) as Record<string, unknown>;
    const audience = typeof props["name"] === "string" ? props["name"] : "";
    const token = typeof request.body === "string" ? request.body : "";
    let status = 200;
    let description = "OK";
    try {
      if (String(props["operation"] ?? "").toLowerCase() !== "put-token" || audience === "" || token === "") {
        throw new HubError("ArgumentInvalid", { message: "A CBS request needs operation 'put-token', the audience in 'name' and the token as an AMQP string body" });
      }
      await this.#authorize(audience, token);
    } catch (error) {
      const hubError = asHubError(error);
      // A "drop" fault rule on connect: the connection goes, with no put-token reply.
      if (isDropFault(error)) return this.close(hubError.errorName);
      if (hubError.errorName === "ServerError") this.logger.error({ err: error }, "CBS put-token failed");
      status = hubError.spec.httpStatus;
      description = hubError.message;
    }
    const replyTo = typeof request.reply_to === "string" ? request.reply_to : "";
    const links = (session as unknown as { links: Record<string, Sender | Receiver> }).links;
    const sender =
      asSender(links[replyTo]) ??
      asSender(Object.values(links).find((l) => l.is_sender() && parseLinkAddress((l.source as { address?: unknown } | undefined)?.address).kind === "cbs"));
    if (sender === undefined || !sender.is_open()) return;
    sender.send({
      correlation_id: request.message_id,
      to: replyTo === "" ? undefined : replyTo,
      application_properties: { "status-code": rhea.types.wrap_int(status), "status-description": description },
      body: null,
    } as Message);
  }

  async #authorize(audience: string, token: string): Promise<void> {
    const hub = this.hub;
    const trackingId = hub.ids.trackingId();
    if (/^sb:\/\//i.test(audience)) {
      const result = hub.eventHubAuth.authenticate(token, audience, trackingId);
      this.#eventHub.set(audiencePath(audience), { caller: result.caller, expiresAt: result.expiresAt });
      return;
    }
    const identity = identityOfAudience(audience, hub.hostName);
    if (identity !== undefined) {
      const auth = await hub.deviceAuth.authenticateSas(identity, token, trackingId);
      const existing = this.#devices.get(keyOf(identity));
      // A new token on a live connection renews it in place (IoT Hub: AMQP tokens are renewed without reconnecting).
      if (existing !== undefined) return existing.renew(auth.expiresAt);
      await this.#connectDevice(identity, async () => auth);
      return;
    }
    const caller = hub.serviceAuth.authenticate(token, trackingId);
    const expiresAt = /[?&]se=(\d+)/.exec(token)?.[1];
    this.#service = { caller, expiresAt: expiresAt === undefined ? Infinity : Number(expiresAt) * 1000 };
  }

  // ---- device links ----

  async #attachDevice(link: Sender | Receiver, address: Extract<LinkAddress, { deviceId: string }>, context: EventContext): Promise<void> {
    const identity = { deviceId: address.deviceId, moduleId: address.moduleId };
    let device = this.#devices.get(keyOf(identity));
    try {
      if (device === undefined) {
        if (this.#peerChain.length === 0 && !this.#pending.has(keyOf(identity))) {
          throw new HubError("IotHubUnauthorizedAccess", {
            trackingId: this.hub.ids.trackingId(),
            message: `The link '${address.kind}' of ${identity.moduleId === "" ? `device '${identity.deviceId}'` : `module '${identity.deviceId}/${identity.moduleId}'`} needs a token put on $cbs for that identity (or an X.509 client certificate)`,
          });
        }
        // X.509: the TLS client certificate authenticates the identity the link names.
        device = await (this.#pending.get(keyOf(identity)) ??
          this.#connectDevice(identity, () => this.hub.deviceAuth.authenticateX509(identity, this.#peerChain, this.hub.ids.trackingId())));
      }
      if (this.#closed || !link.is_open()) return;
      this.#handlers.set(link, device.attach(link, address.kind, context));
    } catch (error) {
      this.refuse(link, asHubError(error));
    }
  }

  #connectDevice(identity: { deviceId: string; moduleId: string }, authenticate: () => ReturnType<Hub["deviceAuth"]["authenticateSas"]>): Promise<AmqpDevice> {
    const key = keyOf(identity);
    const pending = (async () => {
      try {
        const auth = await authenticate();
        const device = await AmqpDevice.connect({ hub: this.hub, logger: this.logger, scope: this, client: { ...this.#client }, onClose: (reason) => this.#deviceClosed(key, reason) }, auth);
        if (this.#closed) {
          device.ended(undefined);
          throw new HubError("DeviceConnectionClosedRemotely");
        }
        this.#devices.set(key, device);
        return device;
      } catch (error) {
        if (isHubError(error)) {
          this.hub.events.emit({ type: "connectionRefused", time: this.now(), deviceId: identity.deviceId, moduleId: identity.moduleId, protocol: "amqp", error: error.errorName, ...this.#client });
        }
        throw error;
      } finally {
        this.#pending.delete(key);
      }
    })();
    this.#pending.set(key, pending);
    return pending;
  }

  /**
   * The hub ends one identity on this connection (a newer connection took over: 400027; its token expired: 401003;
   * it was disabled or deleted). The SDKs use one connection per identity, so the connection closes with it.
   */
  #deviceClosed(key: string, reason: HubErrorName): void {
    this.#devices.delete(key);
    if (this.#devices.size === 0) this.close(reason);
  }
}
