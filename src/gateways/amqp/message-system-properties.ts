import type { Message } from "rhea";
import { idText } from "./amqp-message.js";

/** The IoT Hub system properties a sender sets in AMQP message properties, by the name the core gives them. */
export interface SentSystemProperties {
  messageId?: string;
  correlationId?: string;
  userId?: string;
  contentType?: string;
  contentEncoding?: string;
}

/**
 * The system properties a device or back end put in the AMQP `properties` section (service-protocol.md §4.3,
 * device-protocol.md §3.4): ids as text whatever their AMQP type, `user_id` (binary) as UTF-8; empty ones left out.
 */
export function sentSystemProperties(message: Message): SentSystemProperties {
  const out: SentSystemProperties = {};
  const set = (name: keyof SentSystemProperties, value: string | undefined): void => {
    if (value !== undefined && value !== "") out[name] = value;
  };
  set("messageId", idText(message.message_id));
  set("correlationId", idText(message.correlation_id));
  set("userId", Buffer.isBuffer(message.user_id) ? message.user_id.toString("utf8") : idText(message.user_id));
  set("contentType", message.content_type === undefined ? undefined : String(message.content_type));
  set("contentEncoding", message.content_encoding === undefined ? undefined : String(message.content_encoding));
  return out;
}
