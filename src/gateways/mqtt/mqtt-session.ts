import type { Duplex } from "node:stream";
import type { X509Certificate } from "node:crypto";
import {
  HubError,
  isDropFault,
  isHubError,
  renderConnectionAuthMethod,
  type CallContext,
  type DeviceConnection,
  type DeviceLink,
  type DeviceSubscription,
  type Hub,
  type HubErrorName,
  type TimerHandle,
} from "../../hub/index.js";
import type { Logger } from "../../observability/logger.js";
import { parseUsername, type MqttUsername } from "./username.js";
import { formatPropertyBag } from "./property-bag.js";
import { c2dTopic, desiredPatchTopic, grantQos, methodRequestTopic, parsePublishTopic, parseSubscribeFilter, twinResponseTopic, type SubscribeTarget } from "./topics.js";
import type { SubscriptionStore } from "./subscription-store.js";
import { PacketDecoder, type ClientPacket, type ConnectPacket, type PublishPacket, type SubscribePacket } from "./packet-decoder.js";
import { connackFrame, pingrespFrame, pubackFrame, publishFrame, subackFrame, unsubackFrame } from "./server-frames.js";

export interface MqttSessionDeps {
  readonly hub: Hub;
  readonly logger: Logger;
  readonly subscriptions: SubscriptionStore;
}

// A device has this long (hub time) to send CONNECT after the socket opens, then it is dropped.
const CONNECT_TIMEOUT_MS = 30_000;
// Learn: the hub allows 1.5 × the client's keep-alive, at most 1767 s (the Azure load balancer's idle timeout).
const MAX_IDLE_MS = 1767_000;
// A telemetry message is at most 256 KB plus its topic; anything far larger is refused before it is buffered.
const MAX_PACKET = 300 * 1024;

type Subscribable = Exclude<SubscribeTarget["kind"], "forbidden">;
const PUSH_KIND: Partial<Record<Subscribable, DeviceSubscription>> = { c2d: "c2d", desiredUpdates: "desired", methods: "methods" };
const KNOWN_FILTERS: Record<Subscribable, true> = { c2d: true, moduleInputs: true, twinResponses: true, desiredUpdates: true, methods: true };

/**
 * One MQTT 3.1.1 connection from a device or module (TLS or WebSocket): CONNECT and authentication, the IoT Hub
 * topic space, keep-alive, and the pushes the core sends through it (it is the DeviceLink it registers: one object
 * per connection rather than a second one full of closures, since a connection storm or 19,000 idle devices pay for
 * every object a connection keeps).
 */
export class MqttSession implements DeviceLink {
  readonly protocol = "mqtt";
  readonly #deps: MqttSessionDeps;
  readonly #stream: Duplex;
  readonly #peerChain: readonly X509Certificate[];
  readonly #decoder = new PacketDecoder({
    maxPacketBytes: MAX_PACKET,
    onPacket: (packet) => {
      this.#lastPacketAt = this.#deps.hub.clock.now();
      this.#queue = this.#queue.then(() => this.#onPacket(packet)).catch((error: unknown) => this.#fail(error));
    },
    onError: (message, tooLarge) => this.#refuse(tooLarge ? "MQTT packet larger than IoT Hub accepts" : `Malformed MQTT packet: ${message}`),
  });
  #connection: DeviceConnection | undefined;
  #ctx: CallContext | undefined;
  /** `deviceId[/moduleId]` once authenticated, for logs. */
  #logName: string | undefined;
  /** The IoT Plug and Play model id of the CONNECT username: it becomes `dt-dataschema` on telemetry. */
  #modelId: string | undefined;
  #filters = new Set<Subscribable>();
  #closed = false;
  #closeReason: HubErrorName | undefined;
  #lastPacketAt: number;
  #keepAliveMs = 0;
  #connectTimer: TimerHandle | undefined;
  #keepAliveTimer: TimerHandle | undefined;
  #expiryTimer: TimerHandle | undefined;
  /** C2D deliveries awaiting PUBACK: packet id → lock token. The message stays locked until then (IoT Hub: 1 min). */
  readonly #c2dInFlight = new Map<number, string>();
  #nextPacketId = 1;
  #pulling = false;
  /** Telemetry acknowledgements, chained so they leave in PUBLISH order. */
  #acks: Promise<void> = Promise.resolve();
  /** Packets are handled one at a time, in order, so PUBACKs follow PUBLISH order (MQTT-4.6.0-2). */
  #queue: Promise<void> = Promise.resolve();
  /** Writes of this tick are corked until the next one (see #send); one bound function for every tick. */
  #corked = false;
  readonly #uncork = (): void => {
    this.#corked = false;
    this.#stream.uncork();
  };

  /** The peer's IP address, for resource logs (`maskedIpAddress`). */
  readonly #ipAddress: string | undefined;

  constructor(deps: MqttSessionDeps, stream: Duplex, peerChain: readonly X509Certificate[], ipAddress?: string) {
    this.#deps = deps;
    this.#stream = stream;
    this.#peerChain = peerChain;
    this.#ipAddress = ipAddress;
    this.#lastPacketAt = deps.hub.clock.now();
    // The decoder refuses a packet whose remaining-length field announces more than MAX_PACKET as soon as it reads
    // it, before buffering any of the 256 MB the field allows.
    stream.on("data", (chunk: Buffer) => {
      if (!this.#closed) this.#decoder.push(chunk);
    });
    stream.on("error", () => this.#end());
    stream.on("close", () => this.#end());
    this.#connectTimer = deps.hub.timers.after(CONNECT_TIMEOUT_MS, () => {
      if (this.#ctx === undefined) this.#refuse("No CONNECT within the connect timeout");
    });
  }

  async #onPacket(packet: ClientPacket): Promise<void> {
    if (this.#closed) return;
    if (packet.cmd === "connect") return this.#onConnect(packet);
    if (this.#ctx === undefined) return this.#refuse(`${packet.cmd} before CONNECT`);
    switch (packet.cmd) {
      case "publish":
        return this.#onPublish(packet);
      case "subscribe":
        return this.#onSubscribe(packet);
      case "unsubscribe":
        for (const filter of packet.unsubscriptions) {
          const target = parseSubscribeFilter(filter, this.#identity());
          if (target.kind !== "forbidden") this.#filters.delete(target.kind);
        }
        await this.#saveSubscriptions();
        return this.#send(unsubackFrame(packet.messageId));
      case "pingreq":
        return this.#send(pingrespFrame());
      case "puback":
        return this.#onC2dAck(packet.messageId);
      case "disconnect":
        return this.#end();
      default:
        return this.#refuse(`IoT Hub does not accept MQTT ${packet.cmd} packets`);
    }
  }

  async #onConnect(packet: ConnectPacket): Promise<void> {
    const hub = this.#deps.hub;
    if (this.#ctx !== undefined) return this.#refuse("A second CONNECT on one connection");
    if (packet.protocolVersion !== 4) return this.#connack(1, "Only MQTT 3.1.1 is supported");
    let username: MqttUsername;
    try {
      username = parseUsername(packet.username ?? "", hub.hostName);
    } catch (error) {
      return this.#connack(isHubError(error) ? (error.spec.mqtt.connack ?? 4) : 4, (error as Error).message);
    }
    if (packet.clientId !== username.clientId) {
      return this.#connack(2, `The client id '${packet.clientId}' must be '${username.clientId}'`);
    }
    const identity = { deviceId: username.deviceId, moduleId: username.moduleId ?? "" };
    const trackingId = hub.ids.trackingId();
    // The SDK's user agent rides in the username's DeviceClientType; IoT Hub logs it as sdkVersion (monitoring.md §2.1).
    const client = { ipAddress: this.#ipAddress, sdkVersion: username.deviceClientType };
    try {
      const auth =
        packet.password !== undefined
          ? await hub.deviceAuth.authenticateSas(identity, packet.password.toString("utf8"), trackingId)
          : await hub.deviceAuth.authenticateX509(identity, this.#peerChain, trackingId);
      if (this.#closed) return;
      this.#logName = username.clientId;
      this.#modelId = username.modelId;
      this.#ctx = { caller: auth.caller, protocol: "mqtt", trackingId, client };
      const stored = packet.clean ? undefined : await this.#deps.subscriptions.load(identity);
      if (packet.clean) await this.#deps.subscriptions.clear(identity);
      this.#filters = new Set((stored ?? []).filter((f): f is Subscribable => f in KNOWN_FILTERS));
      this.#connection = await hub.presence.connect(auth.caller, this, {
        protocol: "mqtt",
        authMethod: renderConnectionAuthMethod(auth.authMethod),
        generationId: auth.generationId,
        client,
      });
      if (this.#closed) return void this.#connection.closed(this.#closeReason);
      this.#send(connackFrame(stored !== undefined, 0));
      this.#connectTimer?.cancel();
      this.#connectTimer = undefined;
      this.#scheduleKeepAlive(packet.keepalive);
      if (auth.expiresAt !== undefined) {
        // The token was judged on wall time; its remaining life runs on the hub clock, so tests can reach it.
        const remaining = auth.expiresAt - Date.now();
        this.#expiryTimer = hub.timers.after(Math.max(remaining, 0), () => this.close("IotHubUnauthorized"));
      }
      this.#connection.subscriptionsChanged();
      if (this.#filters.has("c2d")) void this.#pullC2d();
    } catch (error) {
      if (!isHubError(error)) throw error;
      hub.events.emit({ type: "connectionRefused", time: hub.clock.now(), deviceId: identity.deviceId, moduleId: identity.moduleId, protocol: "mqtt", error: error.errorName, ...client });
      // A "drop" fault rule on connect: the socket closes with no CONNACK at all.
      if (isDropFault(error)) return this.close(error.errorName);
      return this.#connack(error.spec.mqtt.connack ?? 5, error.message);
    }
  }

  async #onPublish(packet: PublishPacket): Promise<void> {
    const hub = this.#deps.hub;
    const ctx = this.#ctx!;
    if (packet.qos === 2) return this.#refuse("IoT Hub does not support QoS 2");
    let target;
    try {
      target = parsePublishTopic(packet.topic, this.#identity());
    } catch (error) {
      return this.#refuse(`Invalid telemetry topic '${packet.topic}': ${(error as Error).message}`);
    }
    const payload = packet.payload;
    switch (target.kind) {
      case "telemetry": {
        const system: Record<string, string> = { ...(target.properties.system as Record<string, string>) };
        if (this.#modelId !== undefined) system["dt-dataschema"] = this.#modelId;
        // The next packets are read while this message is being stored, so a device's whole in-flight window lands in
        // one group commit; PUBACKs still go out in PUBLISH order (MQTT-4.6.0-2), each only once its message is durable.
        const stored = hub.telemetry.send(ctx, { body: payload, properties: target.properties.application, systemProperties: system });
        stored.catch(() => undefined);
        this.#acks = this.#acks.then(async () => {
          try {
            await stored;
          } catch (error) {
            // MQTT has no way to refuse one PUBLISH: IoT Hub closes the connection, and nothing is stored.
            if (!isHubError(error)) return this.#fail(error);
            return this.#refuse(`Telemetry refused: ${error.message}`, error.errorName);
          }
          if (packet.qos === 1) this.#send(pubackFrame(packet.messageId!));
        });
        return;
      }
      case "twinGet":
        return this.#twinReply(target.rid, async () => ({ status: 200, body: JSON.stringify(await hub.deviceTwins.get(ctx)) }));
      case "twinReportedPatch":
        return this.#twinReply(target.rid, async () => {
          let patch: unknown;
          try {
            patch = JSON.parse(payload.toString("utf8"));
          } catch {
            throw new HubError("ArgumentInvalid", { message: "The reported properties patch is not valid JSON" });
          }
          const version = await hub.deviceTwins.patchReported(ctx, patch, target.version);
          return { status: 204, body: "", version };
        });
      case "methodResponse":
        hub.methods.respond(ctx, target.rid, target.status, payload);
        return;
      case "forbidden":
        return this.#refuse(target.reason);
    }
  }

  /** Runs a twin request and answers on `$iothub/twin/res/{status}/?$rid=`; errors carry a JSON body, never empty. */
  async #twinReply(rid: string | undefined, run: () => Promise<{ status: number; body: string; version?: number }>): Promise<void> {
    let reply: { status: number; body: string; version?: number };
    try {
      reply = await run();
    } catch (error) {
      if (!isHubError(error)) throw error;
      const hub = this.#deps.hub;
      reply = {
        status: error.spec.mqtt.status,
        body: JSON.stringify({ errorCode: error.code, trackingId: error.trackingId ?? this.#ctx!.trackingId, message: error.message, timestampUtc: new Date(hub.clock.now()).toISOString() }),
      };
    }
    if (rid === undefined) return;
    this.#publish(twinResponseTopic(reply.status, rid, reply.version), Buffer.from(reply.body));
  }

  async #onSubscribe(packet: SubscribePacket): Promise<void> {
    const granted: number[] = [];
    for (const subscription of packet.subscriptions) {
      const target = parseSubscribeFilter(subscription.topic, this.#identity());
      // The SDK treats SUBACK 0x80 as success, so a refused filter closes the connection as IoT Hub does.
      if (target.kind === "forbidden") return this.#refuse(target.reason);
      this.#filters.add(target.kind);
      granted.push(grantQos(subscription.qos));
    }
    await this.#saveSubscriptions();
    this.#send(subackFrame(packet.messageId, granted));
    this.#connection?.subscriptionsChanged();
    if (this.#filters.has("c2d")) void this.#pullC2d();
  }

  async #saveSubscriptions(): Promise<void> {
    await this.#deps.subscriptions.save(this.#identity(), [...this.#filters]);
  }

  // DeviceLink: what the core pushes to this device.

  subscribed(kind: DeviceSubscription): boolean {
    for (const filter of this.#filters) if (PUSH_KIND[filter] === kind) return true;
    return false;
  }

  c2dAvailable(): void {
    void this.#pullC2d();
  }

  sendDesiredPatch(patch: Readonly<Record<string, unknown>>): void {
    this.#publish(desiredPatchTopic(patch["$version"] as number), Buffer.from(JSON.stringify(patch)));
  }

  sendMethodRequest(requestId: string, methodName: string, payload: Buffer): void {
    this.#publish(methodRequestTopic(methodName, requestId), payload);
  }

  /**
   * Delivers every waiting C2D message at QoS 1, each locked until its PUBACK completes it; a message not
   * acknowledged within the lock goes back to the queue and comes again (the queue's lock timer).
   */
  async #pullC2d(): Promise<void> {
    if (this.#pulling || this.#closed || this.#ctx === undefined) return;
    this.#pulling = true;
    try {
      const ctx = this.#ctx;
      const identity = this.#identity();
      while (!this.#closed && this.#filters.has("c2d")) {
        const message = await this.#deps.hub.c2d.receive(ctx, { deviceId: identity.deviceId });
        if (message === undefined || message.lockToken === null) break;
        if (this.#closed) break;
        const packetId = this.#packetId();
        this.#c2dInFlight.set(packetId, message.lockToken);
        const system = message.systemProperties;
        const bag = formatPropertyBag({
          messageId: system.messageId,
          to: system.to,
          correlationId: system.correlationId,
          userId: system.userId,
          contentType: system.contentType,
          contentEncoding: system.contentEncoding,
          expiryTimeUtc: message.expiryTime,
          ack: system.ack,
          properties: message.properties,
        });
        this.#send(publishFrame(c2dTopic(identity, bag), message.body, 1, packetId));
      }
    } catch (error) {
      if (!isHubError(error)) throw error;
      this.#deps.logger.warn({ err: error, device: this.#logName }, "Cannot deliver cloud-to-device messages");
    } finally {
      this.#pulling = false;
    }
  }

  async #onC2dAck(packetId: number | undefined): Promise<void> {
    const lockToken = packetId === undefined ? undefined : this.#c2dInFlight.get(packetId);
    if (lockToken === undefined) return;
    this.#c2dInFlight.delete(packetId!);
    try {
      await this.#deps.hub.c2d.complete(this.#ctx!, lockToken);
    } catch (error) {
      // A PUBACK after the lock ran out: the message was already requeued and will come again (412002 on AMQP/HTTP).
      if (!isHubError(error)) throw error;
      this.#deps.logger.info({ err: error, device: this.#logName }, "Late acknowledgement of a cloud-to-device message");
    }
  }

  /** MQTT packet ids are 1-65535; skip ids still awaiting a PUBACK. */
  #packetId(): number {
    do {
      this.#nextPacketId = (this.#nextPacketId % 65535) + 1;
    } while (this.#c2dInFlight.has(this.#nextPacketId));
    return this.#nextPacketId;
  }

  #identity(): { deviceId: string; moduleId: string } {
    const caller = this.#ctx!.caller;
    return caller.kind === "device" ? { deviceId: caller.deviceId, moduleId: caller.moduleId } : { deviceId: "", moduleId: "" };
  }

  #scheduleKeepAlive(seconds: number): void {
    if (seconds <= 0) return;
    this.#keepAliveMs = Math.min(seconds * 1500, MAX_IDLE_MS);
    const check = (): void => {
      if (this.#closed) return;
      const idle = this.#deps.hub.clock.now() - this.#lastPacketAt;
      if (idle >= this.#keepAliveMs) return this.close("DeviceConnectionClosedRemotely");
      this.#keepAliveTimer = this.#deps.hub.timers.after(this.#keepAliveMs - idle, check);
    };
    this.#keepAliveTimer = this.#deps.hub.timers.after(this.#keepAliveMs, check);
  }

  /** Hub-initiated close: MQTT 3.1.1 has no server DISCONNECT, so the socket is closed. */
  close(reason: HubErrorName): void {
    if (this.#closed) return;
    this.#closeReason = reason;
    this.#stream.destroy();
    this.#end();
  }

  #connack(returnCode: number, why: string): void {
    this.#deps.logger.info({ returnCode, why, username: this.#logName }, "MQTT connection refused");
    this.#send(connackFrame(false, returnCode));
    this.#stream.end();
    this.#end();
  }

  /** A protocol violation or refused request: logged, recorded, and the connection closed as IoT Hub does. */
  #refuse(why: string, reason: HubErrorName = "ArgumentInvalid"): void {
    if (this.#closed) return;
    const hub = this.#deps.hub;
    const caller = this.#ctx?.caller;
    this.#deps.logger.warn({ why, device: this.#logName }, "MQTT connection closed by the hub");
    if (caller?.kind === "device") {
      hub.events.emit({ type: "operationRefused", time: hub.clock.now(), deviceId: caller.deviceId, moduleId: caller.moduleId, protocol: "mqtt", operation: "mqtt", detail: why });
    }
    this.close(reason);
  }

  #fail(error: unknown): void {
    this.#deps.logger.error({ err: error, device: this.#logName }, "Unexpected error in an MQTT session");
    this.close("ServerError");
  }

  #publish(topic: string, payload: Buffer): void {
    this.#send(publishFrame(topic, payload, 0));
  }

  /**
   * Writes made in one tick leave together (cork, then uncork on the next tick: one writev). A group commit resolves
   * a device's whole window of PUBLISHes at once, and on a plain TCP socket each 4-byte PUBACK was otherwise its own
   * write system call (a fifth of the hub's CPU in the plain-TCP ingest benchmark).
   */
  #send(frame: Buffer): void {
    if (this.#closed || this.#stream.destroyed) return;
    if (!this.#corked) {
      this.#corked = true;
      this.#stream.cork();
      process.nextTick(this.#uncork);
    }
    this.#stream.write(frame);
  }

  #end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#connectTimer?.cancel();
    this.#keepAliveTimer?.cancel();
    this.#expiryTimer?.cancel();
    if (!this.#stream.destroyed) this.#stream.destroy();
    void this.#connection?.closed(this.#closeReason);
  }
}
