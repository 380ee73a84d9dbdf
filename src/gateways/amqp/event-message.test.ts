import { test } from "node:test";
import assert from "node:assert/strict";
import rhea from "rhea";
import { OFFSET_STRIDE, type TelemetryRecord } from "../../hub/index.js";
import { eventMessage } from "./event-message.js";

const T = Date.UTC(2024, 5, 1, 12);

function record(systemProperties: Record<string, string>): TelemetryRecord {
  return { partition: 1, sequenceNumber: 7, enqueuedTime: T, body: Buffer.from('{"t":1}'), properties: { k: "v" }, systemProperties };
}

/** What a reader decodes: the message through rhea's encoder and decoder. */
function onTheWire(message: ReturnType<typeof eventMessage>) {
  return rhea.message.decode(rhea.message.encode(message)) as Record<string, any>;
}

test("Event Hubs annotations: sequence number, offset as a string, enqueued time; the body is one data section", () => {
  const wire = onTheWire(eventMessage(record({ "iothub-connection-device-id": "d1", "iothub-enqueuedtime": new Date(T).toISOString() }), "hub"));
  const annotations = wire["message_annotations"];
  assert.equal(annotations["x-opt-sequence-number"], 7);
  assert.equal(annotations["x-opt-offset"], String(7 * OFFSET_STRIDE));
  assert.deepEqual(annotations["x-opt-enqueued-time"], new Date(T));
  assert.equal(annotations["iothub-connection-device-id"], "d1");
  assert.deepEqual(annotations["iothub-enqueuedtime"], new Date(T));
  assert.equal(wire["body"].typecode, 0x75);
  assert.equal(Buffer.from(wire["body"].content).toString(), '{"t":1}');
  assert.deepEqual(wire["application_properties"], { k: "v" });
  assert.equal(wire["delivery_annotations"], undefined);
});

test("device-set system properties go back to the message properties; dt-* and the interface to annotations", () => {
  const wire = onTheWire(
    eventMessage(
      record({
        messageId: "m1",
        correlationId: "c1",
        contentType: "application/json",
        contentEncoding: "utf-8",
        to: "/devices/d1/messages/events",
        expiryTimeUtc: new Date(T + 60_000).toISOString(),
        creationTimeUtc: new Date(T - 1000).toISOString(),
        "dt-subject": "thermostat1",
        "dt-dataschema": "dtmi:com:example:Thermostat;1",
        interfaceId: "urn:azureiot:Security:SecurityAgent:1",
      }),
      "hub",
    ),
  );
  assert.equal(wire["message_id"], "m1");
  assert.equal(wire["correlation_id"], "c1");
  assert.equal(wire["content_type"], "application/json");
  assert.equal(wire["content_encoding"], "utf-8");
  assert.equal(wire["to"], "/devices/d1/messages/events");
  assert.deepEqual(wire["absolute_expiry_time"], new Date(T + 60_000));
  assert.deepEqual(wire["creation_time"], new Date(T - 1000));
  // No userId from the device: the hub name, as IoT Hub stamps it.
  assert.equal(Buffer.from(wire["user_id"]).toString(), "hub");
  const annotations = wire["message_annotations"];
  assert.equal(annotations["dt-subject"], "thermostat1");
  assert.equal(annotations["dt-dataschema"], "dtmi:com:example:Thermostat;1");
  assert.equal(annotations["iothub-interface-name"], "urn:azureiot:Security:SecurityAgent:1");
  assert.equal(annotations["messageId"], undefined);
});

test("a device's userId is kept; runtime metrics travel as delivery annotations", () => {
  const partition = { name: "hub", partitionId: "1", beginningSequenceNumber: 0, lastEnqueuedSequenceNumber: 9, lastEnqueuedOffset: "9216", lastEnqueuedTimeUtc: T + 5, isEmpty: false };
  const wire = onTheWire(eventMessage(record({ userId: "someone" }), "hub", { partition, retrievedAt: T + 10 }));
  assert.equal(Buffer.from(wire["user_id"]).toString(), "someone");
  assert.deepEqual(wire["delivery_annotations"], {
    last_enqueued_sequence_number: 9,
    last_enqueued_offset: "9216",
    last_enqueued_time_utc: new Date(T + 5),
    runtime_info_retrieval_time_utc: new Date(T + 10),
  });
});
