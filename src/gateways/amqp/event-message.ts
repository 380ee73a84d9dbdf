import rhea, { type Message } from "rhea";
import { offsetOf, type PartitionProperties, type TelemetryRecord } from "../../hub/index.js";
import { dataBody } from "./amqp-message.js";

/**
 * Device-set system properties that travel as AMQP message properties on IoT Hub's built-in endpoint: a reader sees
 * them where the device put them (service-protocol.md §5.6; the SDK lists them under `systemProperties.messageId` …).
 */
const PROPERTY_FIELDS: Readonly<Record<string, "message_id" | "correlation_id" | "to" | "content_type" | "content_encoding">> = {
  messageId: "message_id",
  correlationId: "correlation_id",
  to: "to",
  contentType: "content_type",
  contentEncoding: "content_encoding",
};

/**
 * Device-set system properties that IoT Hub renders as message annotations, by the name it gives them there. The
 * component name (`dt-subject`) and the model id (`dt-dataschema`) keep their names; a security agent's interface id
 * arrives as `iothub-interface-name` (§5.6 lists the optional `iothub-interface-name`, `dt-dataschema`, `dt-subject`).
 */
const ANNOTATION_NAMES: Readonly<Record<string, string>> = {
  "dt-subject": "dt-subject",
  "dt-dataschema": "dt-dataschema",
  interfaceId: "iothub-interface-name",
  // A module's output name: not in any capture; kept as an annotation so a reader can still tell outputs apart.
  outputName: "iothub-outputname",
};

// Hub-stamped annotations that are timestamps on the wire (the SDK turns them into epoch-ms numbers).
const TIMESTAMP_ANNOTATIONS: ReadonlySet<string> = new Set(["iothub-enqueuedtime"]);

// Names that carry no information for a reader, or are rendered elsewhere above.
const HANDLED: ReadonlySet<string> = new Set(["userId", "expiryTimeUtc", "creationTimeUtc"]);

/** A system property's time text (ISO, or ms as HTTPS devices may send it) as a Date, if it is one. */
function dateOf(text: string): Date | undefined {
  const ms = /^-?\d+$/.test(text) ? Number(text) : Date.parse(text);
  return Number.isFinite(ms) ? new Date(ms) : undefined;
}

/**
 * One telemetry record as IoT Hub's built-in endpoint delivers it to an Event Hubs reader (service-protocol.md §5.6,
 * §11.7): the payload as one `data` section; the device's message properties; its application properties as
 * strings; the Event Hubs annotations (`x-opt-offset` a string, as IoT Hub sends it — a long would reach the SDK as a
 * number) and IoT Hub's `iothub-*` annotations. `user_id` is what the device set, else the hub name, as IoT Hub
 * stamps it on the events it originates.
 */
export function eventMessage(record: TelemetryRecord, hubName: string, runtime?: { readonly partition: PartitionProperties; readonly retrievedAt: number }): Message {
  const system = record.systemProperties;
  const message: Record<string, unknown> = {};
  const annotations: Record<string, unknown> = {
    "x-opt-sequence-number": rhea.types.wrap_long(record.sequenceNumber),
    "x-opt-offset": offsetOf(record.sequenceNumber),
    "x-opt-enqueued-time": new Date(record.enqueuedTime),
  };
  for (const [name, value] of Object.entries(system)) {
    const field = PROPERTY_FIELDS[name];
    if (field !== undefined) {
      message[field] = value;
      continue;
    }
    if (HANDLED.has(name)) continue;
    const annotation = ANNOTATION_NAMES[name] ?? name;
    annotations[annotation] = TIMESTAMP_ANNOTATIONS.has(annotation) ? (dateOf(value) ?? value) : value;
  }
  message["user_id"] = Buffer.from(system["userId"] ?? hubName, "utf8");
  const expiry = system["expiryTimeUtc"] === undefined ? undefined : dateOf(system["expiryTimeUtc"]);
  if (expiry !== undefined) message["absolute_expiry_time"] = expiry;
  const created = system["creationTimeUtc"] === undefined ? undefined : dateOf(system["creationTimeUtc"]);
  if (created !== undefined) message["creation_time"] = created;
  message["message_annotations"] = annotations;
  message["application_properties"] = { ...record.properties };
  if (runtime !== undefined) {
    // `com.microsoft:enable-receiver-runtime-metric`: the partition's last event travels with every delivery, which the
    // SDK exposes as `lastEnqueuedEventProperties` (service-protocol.md §5.6, §11.7).
    const p = runtime.partition;
    message["delivery_annotations"] = {
      last_enqueued_sequence_number: rhea.types.wrap_long(p.lastEnqueuedSequenceNumber),
      last_enqueued_offset: p.lastEnqueuedOffset,
      last_enqueued_time_utc: new Date(p.lastEnqueuedTimeUtc),
      runtime_info_retrieval_time_utc: new Date(runtime.retrievedAt),
    };
  }
  message["body"] = dataBody(record.body);
  return message as unknown as Message;
}
