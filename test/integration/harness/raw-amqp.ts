import rhea, { type Connection, type EventContext, type Message, type Receiver, type Sender } from "rhea";
import type { RunningHub } from "../../../src/app.js";

const TIMEOUT_MS = 5000;

export interface LinkEnd {
  /** The condition the hub detached the link with (undefined: it stayed attached within the wait). */
  readonly condition: string | undefined;
  readonly description: string | undefined;
}

function within<T>(promise: Promise<T>, what: string, ms = TIMEOUT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Timed out waiting for ${what}`)), ms);
    }),
  ]);
}

/**
 * A hand-driven AMQP client (rhea) for what the SDKs never send: links before authentication, foreign addresses,
 * malformed CBS requests, oversize messages. Bare AMQP header after TLS, as the IoT SDKs connect.
 */
export class RawAmqp {
  readonly connection: Connection;
  readonly closed: Promise<void>;
  isClosed = false;
  #cbsSender: Sender | undefined;
  #cbsReceiver: Receiver | undefined;
  readonly #replies = new Map<string, (message: Message) => void>();
  #nextId = 1;

  private constructor(connection: Connection) {
    this.connection = connection;
    this.closed = new Promise((resolve) => {
      const gone = (): void => {
        this.isClosed = true;
        resolve();
      };
      connection.on("disconnected", gone);
      connection.on("connection_close", gone);
    });
    connection.on("connection_error", () => undefined);
    connection.on("error", () => undefined);
  }

  /** `sasl`: negotiate SASL with that mechanism first (the IoT SDKs send the bare AMQP header instead). */
  static async connect(hub: RunningHub, options: { sasl?: "ANONYMOUS" | "EXTERNAL" } = {}): Promise<RawAmqp> {
    const container = rhea.create_container();
    const connection = container.connect({
      host: hub.hostName,
      port: hub.ports.amqp!,
      transport: "tls",
      servername: hub.hostName,
      reconnect: false,
      ...(options.sasl === "ANONYMOUS" ? { username: "raw" } : {}),
      ...(options.sasl === "EXTERNAL" ? { sasl_mechanisms: { EXTERNAL: () => ({ start: (done: (e: unknown, r: string) => void) => done(undefined, "") }) } } : {}),
    } as never);
    const client = new RawAmqp(connection);
    await within(new Promise((resolve) => connection.once("connection_open", resolve)), "the connection to open");
    return client;
  }

  /** `$cbs` put-token; resolves with the reply's status code and description. */
  async putToken(audience: string, token: string, extra: Record<string, unknown> = {}): Promise<{ status: number; description: string }> {
    if (this.#cbsSender === undefined) {
      this.#cbsReceiver = this.connection.open_receiver({ source: { address: "$cbs" } });
      this.#cbsReceiver.on("message", (context: EventContext) => {
        const id = String(context.message?.correlation_id);
        this.#replies.get(id)?.(context.message!);
        this.#replies.delete(id);
      });
      this.#cbsSender = this.connection.open_sender({ target: { address: "$cbs" } });
      await within(new Promise((resolve) => this.#cbsSender!.once("sendable", resolve)), "CBS credit");
    }
    const id = `req-${this.#nextId++}`;
    const reply = new Promise<Message>((resolve) => this.#replies.set(id, resolve));
    this.#cbsSender.send({
      message_id: id,
      to: "$cbs",
      reply_to: "cbs",
      application_properties: { operation: "put-token", type: "servicebus.windows.net:sastoken", name: audience, ...extra },
      body: token,
    });
    const message = await within(reply, "the CBS reply");
    const props = message.application_properties as Record<string, unknown>;
    return { status: Number(props["status-code"]), description: String(props["status-description"]) };
  }

  /** Attaches a link and waits for the hub's answer: detached with an error, or still attached after a short grace. */
  async attach(role: "sender" | "receiver", address: string, graceMs = 150): Promise<{ link: Sender | Receiver; end: LinkEnd }> {
    const link = role === "sender" ? this.connection.open_sender({ target: { address } }) : this.connection.open_receiver({ source: { address }, autoaccept: false, credit_window: 0 });
    const end = await within(
      new Promise<LinkEnd>((resolve) => {
        link.once(`${role}_close`, (context: EventContext) => {
          const error = (context[role] as Sender | Receiver).error as { condition?: string; description?: string } | undefined;
          resolve({ condition: error?.condition ?? "(none)", description: error?.description });
        });
        link.once(`${role}_open`, () => setTimeout(() => resolve({ condition: undefined, description: undefined }), graceMs));
      }),
      `the hub's answer to the attach of ${address}`,
    );
    return { link, end };
  }

  /** Sends one message on an attached sender and resolves with the hub's outcome and error condition. */
  async send(sender: Sender, message: Message): Promise<{ outcome: string; condition: string | undefined }> {
    if (!sender.sendable()) await within(new Promise((resolve) => sender.once("sendable", resolve)), "credit");
    const delivery = sender.send(message);
    return within(
      new Promise((resolve) => {
        for (const outcome of ["accepted", "rejected", "released", "modified"]) {
          sender.on(outcome, (context: EventContext) => {
            if (context.delivery !== delivery) return;
            const state = context.delivery.remote_state as { error?: { condition?: string } } | undefined;
            resolve({ outcome, condition: state?.error?.condition });
          });
        }
      }),
      "the delivery outcome",
    );
  }

  close(): void {
    if (this.isClosed) return;
    this.connection.close();
    (this.connection as unknown as { socket?: { destroy(): void } }).socket?.destroy();
  }
}
