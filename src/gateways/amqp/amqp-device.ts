import rhea, { type Delivery, type EventContext, type Message, type Receiver, type Sender } from "rhea";
import {
  HubError,
  isHubError,
  renderConnectionAuthMethod,
  type CallContext,
  type ClientInfo,
  type C2dMessage,
  type DeviceAuthResult,
  type DeviceConnection,
  type DeviceLink,
  type DeviceLinkRole,
  type DeviceSubscription,
  type Hub,
  type HubErrorName,
} from "../../hub/index.js";
import type { Logger } from "../../observability/logger.js";
import { asHubError, toAmqpError } from "./amqp-error.js";
import { sentSystemProperties } from "./message-system-properties.js";
import { bodyBytes, dataBody, idText, stringProperties, timeMs, wireId } from "./amqp-message.js";
import { asSender, creditOf, type AmqpScope, type LinkHandler } from "./link-handler.js";

export interface AmqpDeviceDeps {
  readonly hub: Hub;
  readonly logger: Logger;
  readonly scope: AmqpScope;
  /** The hub ended this identity (400027, 401003, disabled, deleted): the connection decides what closes. */
  readonly onClose: (reason: HubErrorName) => void;
  /** Peer address and SDK user agent, for resource logs. */
  readonly client?: ClientInfo;
}

// Far more than one device answers at once: the core allows a handful of concurrent calls per device in practice.
const MAX_PENDING_METHODS = 1000;

type DeviceLinkKind = "d2c" | "c2d" | "methods" | "twin";
type Role = `${DeviceLinkKind}:${"send" | "receive"}`;

// The core names links from the device's side; roles here are the hub's side of each link.
const ROLE_OF: Readonly<Record<DeviceLinkRole, Role>> = {
  d2c: "d2c:receive",
  c2d: "c2d:send",
  twinRequest: "twin:receive",
  twinResponse: "twin:send",
  methodRequest: "methods:send",
  methodResponse: "methods:receive",
};

// System properties a device sets through AMQP message properties and annotations, by IoT Hub name (as the MQTT
// property bag and HTTPS headers name them).
const SYSTEM_ANNOTATIONS: Readonly<Record<string, string>> = { "dt-subject": "dt-subject", "iothub-interface-id": "interfaceId" };

/**
 * One device or module identity on an AMQP connection: its presence in the hub (the DeviceLink the core pushes
 * through) and its links, with the addresses, properties and correlation the device SDK uses (device-protocol.md
 * §3.3–3.7): telemetry, the C2D receiver, twin request/response and method request/response pairs.
 */
export class AmqpDevice {
  readonly #deps: AmqpDeviceDeps;
  readonly #ctx: CallContext;
  readonly #links = new Map<Role, Sender | Receiver>();
  #connection: DeviceConnection | undefined;
  #expiry: { cancel(): void } | undefined;
  #desired = false;
  #ended = false;
  /** C2D deliveries awaiting the device's settlement, by delivery → lock token. */
  readonly #c2dInFlight = new Map<Delivery, string>();
  #pulling = false;
  /** Method requests sent, by the uuid put on the wire → the core's request id. */
  readonly #methodIds = new Map<string, string>();

  private constructor(deps: AmqpDeviceDeps, auth: DeviceAuthResult) {
    this.#deps = deps;
    this.#ctx = { caller: auth.caller, protocol: "amqp", trackingId: deps.hub.ids.trackingId(), client: deps.client };
  }

  /** Registers the authenticated identity with the hub; an older connection of the same identity is closed (400027). */
  static async connect(deps: AmqpDeviceDeps, auth: DeviceAuthResult): Promise<AmqpDevice> {
    const device = new AmqpDevice(deps, auth);
    device.#connection = await deps.hub.presence.connect(auth.caller, device.#link(), {
      protocol: "amqp",
      authMethod: renderConnectionAuthMethod(auth.authMethod),
      generationId: auth.generationId,
      client: deps.client,
    });
    device.renew(auth.expiresAt);
    return device;
  }

  /**
   * A token (re)put on `$cbs`: the identity stays connected until it expires. The remaining life runs on the hub
   * clock so tests reach the expiry by advancing it (decision 0005); expiry closes it with 401003, then 404104.
   */
  renew(expiresAt: number | undefined): void {
    this.#expiry?.cancel();
    this.#expiry = undefined;
    if (expiresAt === undefined || this.#ended) return;
    this.#expiry = this.#deps.hub.timers.after(Math.max(expiresAt - Date.now(), 0), () => this.#close("IotHubUnauthorized"));
  }

  /** A link of this identity was attached: its handler. A second link of the same role displaces the first (409002). */
  attach(link: Sender | Receiver, kind: DeviceLinkKind, _context: EventContext): LinkHandler {
    const role: Role = `${kind}:${link.is_sender() ? "send" : "receive"}`;
    if (role === "d2c:send") {
      // The device's receiver on its own events address is a module input (edge routing), which IoT Hub does not route.
      throw new HubError("InvalidOperation", { message: "Module inputs are routed by IoT Edge; IoT Hub sends nothing on this link" });
    }
    const older = this.#links.get(role);
    if (older !== undefined && older !== link && older.is_open()) {
      this.#deps.scope.refuse(older, new HubError("LinkCreationConflict"));
    }
    this.#links.set(role, link);
    const closed = (): void => {
      if (this.#links.get(role) !== link) return;
      this.#links.delete(role);
      if (role === "twin:send") this.#desired = false;
      this.#connection?.subscriptionsChanged();
    };
    switch (role) {
      case "d2c:receive":
        return { message: (delivery, message) => void this.#telemetry(delivery, message), closed };
      case "c2d:send":
        queueMicrotask(() => void this.#pullC2d());
        return {
          sendable: () => void this.#pullC2d(),
          outcome: (delivery, outcome) => void this.#settleC2d(delivery, outcome),
          closed: () => {
            closed();
            this.#c2dInFlight.clear();
          },
        };
      case "twin:receive":
        return { message: (delivery, message) => void this.#twinRequest(delivery, message), closed };
      case "methods:receive":
        return { message: (delivery, message) => this.#methodResponse(delivery, message), closed };
      default:
        // twin:send and methods:send carry what the hub pushes; the device subscribes by attaching them.
        this.#connection?.subscriptionsChanged();
        return { closed };
    }
  }

  /** The connection is gone: the identity disconnects (reason undefined: the device closed it). */
  ended(reason: HubErrorName | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#expiry?.cancel();
    this.#links.clear();
    void this.#connection?.closed(reason);
  }

  #close(reason: HubErrorName): void {
    if (this.#ended) return;
    this.ended(reason);
    this.#deps.onClose(reason);
  }

  #link(): DeviceLink {
    return {
      protocol: "amqp",
      subscribed: (kind: DeviceSubscription) => {
        if (kind === "c2d") return this.#open("c2d:send");
        if (kind === "methods") return this.#open("methods:send");
        return this.#desired && this.#open("twin:send");
      },
      c2dAvailable: () => void this.#pullC2d(),
      sendDesiredPatch: (patch) => this.#push("twin:send", { body: dataBody(Buffer.from(JSON.stringify(patch))) } as Message),
      sendMethodRequest: (requestId, methodName, payload) => {
        // IoT Hub sends uuid-typed correlation ids on method requests (the C SDK refuses anything else).
        const uuid = `00000000-0000-4000-8000-${requestId.padStart(12, "0").slice(-12)}`;
        this.#methodIds.set(uuid, requestId);
        // Requests the device never answers time out in the core; forget the oldest so the map stays bounded.
        if (this.#methodIds.size > MAX_PENDING_METHODS) this.#methodIds.delete(this.#methodIds.keys().next().value!);
        this.#push("methods:send", { correlation_id: wireId(uuid), application_properties: { "IoThub-methodname": methodName }, body: dataBody(payload) } as Message);
      },
      close: (reason) => this.#close(reason),
      detach: (role, reason) => this.#detach(ROLE_OF[role], reason),
    };
  }

  /** Fault injection (KillAmqp*Link): detaches one link with an error; the SDK then tears down and reconnects. */
  #detach(role: Role, reason: HubErrorName): boolean {
    const link = this.#links.get(role);
    if (link === undefined || !link.is_open()) return false;
    // `refuse` drops the link's handler, so forget the link here as its close handler would have.
    this.#links.delete(role);
    if (role === "twin:send") this.#desired = false;
    if (role === "c2d:send") this.#c2dInFlight.clear();
    this.#deps.scope.refuse(link, new HubError(reason, { message: `The ${role.split(":")[0]} link was detached by an injected fault` }));
    this.#connection?.subscriptionsChanged();
    return true;
  }

  #open(role: Role): boolean {
    const link = this.#links.get(role);
    return link !== undefined && link.is_open();
  }

  #push(role: Role, message: Message): void {
    const link = asSender(this.#links.get(role));
    if (link === undefined || !link.is_open()) return;
    link.send(message);
  }

  // ---- telemetry ----

  /** Accepted only once the message is durable in the telemetry log; refused with the catalog's condition otherwise. */
  async #telemetry(delivery: Delivery, message: Message): Promise<void> {
    const properties = stringProperties(message.application_properties);
    const system: Record<string, string> = { ...sentSystemProperties(message) };
    const set = (name: string, value: string | undefined): void => {
      if (value !== undefined && value !== "") system[name] = value;
    };
    const expiry = timeMs(message.absolute_expiry_time);
    set("expiryTimeUtc", expiry === undefined ? undefined : new Date(expiry).toISOString());
    const created = timeMs(message.creation_time);
    set("creationTimeUtc", created === undefined ? undefined : new Date(created).toISOString());
    for (const [annotation, name] of Object.entries(SYSTEM_ANNOTATIONS)) {
      const value = (message.message_annotations as Record<string, unknown> | undefined)?.[annotation];
      if (value !== undefined && value !== null) set(name, String(value));
    }
    // The SDK puts the module output name and the ack request among the application properties.
    if (properties["iothub-outputname"] !== undefined) set("outputName", properties["iothub-outputname"]);
    delete properties["iothub-outputname"];
    delete properties["iothub-ack"];
    try {
      await this.#deps.hub.telemetry.send(this.#ctx, { body: bodyBytes(message), properties, systemProperties: system });
      delivery.accept();
    } catch (error) {
      const hubError = asHubError(error);
      if (!isHubError(error)) this.#deps.logger.error({ err: error }, "Telemetry over AMQP failed");
      delivery.reject(toAmqpError(hubError, this.#ctx.trackingId, this.#deps.hub.clock.now()));
    }
  }

  // ---- cloud-to-device ----

  /** Sends waiting C2D messages while the device's receiver has credit; each stays locked until it is settled. */
  async #pullC2d(): Promise<void> {
    if (this.#pulling || this.#ended) return;
    this.#pulling = true;
    try {
      for (;;) {
        const link = asSender(this.#links.get("c2d:send"));
        if (link === undefined || !link.is_open() || creditOf(link) <= 0) break;
        const message = await this.#deps.hub.c2d.receive(this.#ctx, { deviceId: this.#identity().deviceId });
        if (message === undefined || message.lockToken === null) break;
        if (!link.is_open()) {
          await this.#deps.hub.c2d.abandon(this.#ctx, message.lockToken).catch(() => undefined);
          break;
        }
        const delivery = link.send(this.#c2dMessage(message), rhea.string_to_uuid(message.lockToken));
        this.#c2dInFlight.set(delivery, message.lockToken);
      }
    } catch (error) {
      this.#deps.logger.warn({ err: error, device: this.#identity() }, "Cannot deliver cloud-to-device messages over AMQP");
    } finally {
      this.#pulling = false;
    }
  }

  /** What IoT Hub puts on a C2D delivery (edgehub-server-notes.md §2.5); the delivery tag is the lock token. */
  #c2dMessage(message: C2dMessage): Message {
    const system = message.systemProperties;
    const properties: Record<string, string> = { ...message.properties };
    if (system.ack !== "none") properties["iothub-ack"] = system.ack;
    return {
      message_id: system.messageId,
      correlation_id: system.correlationId,
      to: system.to,
      user_id: system.userId === undefined ? undefined : Buffer.from(system.userId, "utf8"),
      content_type: system.contentType,
      content_encoding: system.contentEncoding,
      absolute_expiry_time: new Date(message.expiryTime),
      application_properties: properties,
      message_annotations: {
        "iothub-enqueuedtime": new Date(message.enqueuedTime),
        "iothub-deliverycount": rhea.types.wrap_ubyte(Math.min(message.deliveryCount, 255)),
        "x-opt-sequence-number": rhea.types.wrap_ulong(message.sequenceNumber),
        "x-opt-lock-token": message.lockToken,
      },
      body: dataBody(message.body),
    } as Message;
  }

  /** Accepted completes, rejected dead-letters, released or modified abandons (device-protocol.md §3.5). */
  async #settleC2d(delivery: Delivery, outcome: "accepted" | "rejected" | "released" | "modified"): Promise<void> {
    const lockToken = this.#c2dInFlight.get(delivery);
    if (lockToken === undefined) return;
    this.#c2dInFlight.delete(delivery);
    const c2d = this.#deps.hub.c2d;
    try {
      if (outcome === "accepted") await c2d.complete(this.#ctx, lockToken);
      else if (outcome === "rejected") await c2d.reject(this.#ctx, lockToken);
      else await c2d.abandon(this.#ctx, lockToken);
    } catch (error) {
      // Settled after the lock ran out: the message was requeued already (412002); a Node device cannot hear it.
      if (!isHubError(error)) throw error;
      this.#deps.logger.info({ err: error, device: this.#identity() }, "Late settlement of a cloud-to-device message");
    }
    void this.#pullC2d();
  }

  // ---- twin ----

  /**
   * Twin requests (device-protocol.md §3.6): `operation` GET, PATCH `/properties/reported`, PUT/DELETE
   * `/notifications/twin/properties/desired`. The reply echoes the correlation id as a string, with an int `status`
   * and, for PATCH, the long `version` annotation real hubs send.
   */
  async #twinRequest(delivery: Delivery, request: Message): Promise<void> {
    delivery.accept();
    const annotations = (request.message_annotations ?? {}) as Record<string, unknown>;
    const operation = String(annotations["operation"] ?? "").toUpperCase();
    const resource = String(annotations["resource"] ?? "");
    const correlationId = idText(request.correlation_id);
    const hub = this.#deps.hub;
    let reply: { status: number; body?: Buffer; version?: number };
    try {
      if (operation === "GET") {
        reply = { status: 200, body: Buffer.from(JSON.stringify(await hub.deviceTwins.get(this.#ctx))) };
      } else if (operation === "PATCH" && resource.toLowerCase() === "/properties/reported") {
        let patch: unknown;
        try {
          patch = JSON.parse(bodyBytes(request).toString("utf8"));
        } catch {
          throw new HubError("ArgumentInvalid", { message: "The reported properties patch is not valid JSON" });
        }
        reply = { status: 204, version: await hub.deviceTwins.patchReported(this.#ctx, patch) };
      } else if ((operation === "PUT" || operation === "DELETE") && resource.toLowerCase() === "/notifications/twin/properties/desired") {
        this.#desired = operation === "PUT";
        this.#connection?.subscriptionsChanged();
        reply = { status: 200 };
      } else {
        throw new HubError("ArgumentInvalid", { message: `Unknown twin operation '${operation}' on '${resource}'` });
      }
    } catch (error) {
      const hubError = asHubError(error);
      if (!isHubError(error)) this.#deps.logger.error({ err: error }, "Twin request over AMQP failed");
      const body = { errorCode: hubError.code, trackingId: hubError.trackingId ?? this.#ctx.trackingId, message: hubError.message, timestampUtc: new Date(hub.clock.now()).toISOString() };
      reply = { status: hubError.spec.httpStatus, body: Buffer.from(JSON.stringify(body)) };
    }
    if (correlationId === undefined) return;
    const annotationsOut: Record<string, unknown> = { status: rhea.types.wrap_int(reply.status) };
    if (reply.version !== undefined) annotationsOut["version"] = rhea.types.wrap_long(reply.version);
    this.#push("twin:send", {
      correlation_id: correlationId,
      message_annotations: annotationsOut,
      ...(reply.body === undefined ? {} : { body: dataBody(reply.body) }),
    } as Message);
  }

  // ---- direct methods ----

  /** The device's answer: `correlation_id` (uuid or its text), int `IoThub-status`, JSON body (device-protocol.md §3.7). */
  #methodResponse(delivery: Delivery, response: Message): void {
    delivery.accept();
    const id = idText(response.correlation_id);
    const requestId = id === undefined ? undefined : this.#methodIds.get(id.toLowerCase());
    if (requestId === undefined) return;
    this.#methodIds.delete(id!.toLowerCase());
    const status = Number((response.application_properties as Record<string, unknown> | undefined)?.["IoThub-status"] ?? 400);
    this.#deps.hub.methods.respond(this.#ctx, requestId, Number.isFinite(status) ? status : 400, bodyBytes(response));
  }

  #identity(): { deviceId: string; moduleId: string } {
    const caller = this.#ctx.caller;
    return caller.kind === "device" ? { deviceId: caller.deviceId, moduleId: caller.moduleId } : { deviceId: "", moduleId: "" };
  }
}
