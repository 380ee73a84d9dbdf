import { test } from "node:test";
import assert from "node:assert/strict";
import { isHubError } from "../../hub/index.js";
import { formatPropertyBag, formatRoundTripUtc, parsePropertyBag } from "./property-bag.js";

function assertArgumentInvalid(run: () => unknown): void {
  assert.throws(run, (error: unknown) => isHubError(error) && error.errorName === "ArgumentInvalid" && error.code === 400004);
}

test("parsePropertyBag() reads the bag the Node SDK captured on the wire (device-protocol.md §2.3)", () => {
  const bag = parsePropertyBag(
    "%24.mid=msg-1&%24.cid=corr%201&%24.uid=user1&%24.ct=application%2Fjson&%24.ce=utf-8&%24.exp=2030-01-01T00%3A00%3A00.000Z&temp%20alert=yes%2Fno%26x%3D1&%24.sub=comp1",
  );
  assert.deepEqual(bag.system, {
    messageId: "msg-1",
    correlationId: "corr 1",
    userId: "user1",
    contentType: "application/json",
    contentEncoding: "utf-8",
    expiryTimeUtc: "2030-01-01T00:00:00.000Z",
    "dt-subject": "comp1",
  });
  assert.deepEqual(bag.application, { "temp alert": "yes/no&x=1" });
});

test("parsePropertyBag() reads raw $. keys as Learn writes them, and the other system keys", () => {
  const bag = parsePropertyBag(
    "$.ct=application%2Fjson%3Bcharset%3Dutf-8&$.to=%2Fdevices%2Fd%2Fmessages%2Fevents&$.ctime=2024-05-01T12%3A00%3A00.0000000Z&$.on=out1&$.ifid=urn%3Aazureiot%3ASecurity%3ASecurityAgent%3A1&$.schema=s1&$.diagid=d1&$.diagctx=c%3D1",
  );
  assert.deepEqual(bag.system, {
    contentType: "application/json;charset=utf-8",
    to: "/devices/d/messages/events",
    creationTimeUtc: "2024-05-01T12:00:00.0000000Z",
    outputName: "out1",
    interfaceId: "urn:azureiot:Security:SecurityAgent:1",
    messageSchema: "s1",
    diagId: "d1",
    diagCorrelationContext: "c=1",
  });
  assert.deepEqual(bag.application, {});
});

test("parsePropertyBag() gives an empty bag for empty text", () => {
  assert.deepEqual(parsePropertyBag(""), { application: {}, system: {} });
});

test("parsePropertyBag() keeps unknown $. keys, iothub-ack and dt-subject written literally as application properties", () => {
  const bag = parsePropertyBag("%24.future=1&iothub-ack=full&iothub-operation=x&dt-subject=c");
  assert.deepEqual(bag.system, {});
  assert.deepEqual(bag.application, { "$.future": "1", "iothub-ack": "full", "iothub-operation": "x", "dt-subject": "c" });
});

test("parsePropertyBag() drops the connection ids a device must not choose", () => {
  const bag = parsePropertyBag("%24.cdid=other&$.cmid=m&k=v");
  assert.deepEqual(bag, { application: { k: "v" }, system: {} });
});

test("parsePropertyBag() treats a bare key as an empty value and '+' as a plus sign", () => {
  assert.deepEqual(parsePropertyBag("flag&a+b=c+d&empty=").application, { flag: "", "a+b": "c+d", empty: "" });
});

test("parsePropertyBag() splits each pair on its first '=' only", () => {
  assert.deepEqual(parsePropertyBag("k=a=b").application, { k: "a=b" });
});

test("parsePropertyBag() stores a __proto__ key as a plain property", () => {
  const bag = parsePropertyBag("__proto__=x&constructor=y");
  assert.equal(Object.getPrototypeOf(bag.application), Object.prototype);
  assert.deepEqual(Object.entries(bag.application), [["__proto__", "x"], ["constructor", "y"]]);
});

test("parsePropertyBag() refuses a key given twice, also across encodings (ArgumentInvalid)", () => {
  assertArgumentInvalid(() => parsePropertyBag("a=1&a=2"));
  assertArgumentInvalid(() => parsePropertyBag("%24.mid=1&$.mid=2"));
  assertArgumentInvalid(() => parsePropertyBag("%61=1&a=2"));
  assertArgumentInvalid(() => parsePropertyBag("$.cdid=1&%24.cdid=2"));
});

test("parsePropertyBag() refuses empty keys (ArgumentInvalid)", () => {
  assertArgumentInvalid(() => parsePropertyBag("=v"));
  assertArgumentInvalid(() => parsePropertyBag("a=1&&b=2"));
  assertArgumentInvalid(() => parsePropertyBag("a=1&"));
  assertArgumentInvalid(() => parsePropertyBag("&"));
});

test("parsePropertyBag() refuses bad percent-encoding in keys and values (ArgumentInvalid)", () => {
  assertArgumentInvalid(() => parsePropertyBag("a=%zz"));
  assertArgumentInvalid(() => parsePropertyBag("a=%E2%82"));
  assertArgumentInvalid(() => parsePropertyBag("%ED%A0%80=x"));
  assertArgumentInvalid(() => parsePropertyBag("a=100%"));
});

test("formatPropertyBag() writes system keys first as %24.x, then iothub-ack, then application properties", () => {
  const bag = formatPropertyBag({
    properties: { myProp: "hello world", other: "a/b&c=d#e+f" },
    contentEncoding: "utf-8",
    contentType: "application/json",
    correlationId: "corr-9",
    to: "/devices/dev1/messages/devicebound",
    messageId: "c2d-1",
    userId: "svc",
    ack: "full",
  });
  assert.equal(
    bag,
    "%24.mid=c2d-1&%24.to=%2Fdevices%2Fdev1%2Fmessages%2Fdevicebound&%24.cid=corr-9&%24.uid=svc&%24.ct=application%2Fjson&%24.ce=utf-8&iothub-ack=full&myProp=hello%20world&other=a%2Fb%26c%3Dd%23e%2Bf",
  );
  assert.ok(!bag.includes("/"), "no raw '/': the Node SDK reads topic segment 4");
});

test("formatPropertyBag() sends iothub-ack=none when the service chose no ack, as the real hub does", () => {
  assert.equal(formatPropertyBag({ messageId: "m1" }), "%24.mid=m1&iothub-ack=none");
  assert.equal(formatPropertyBag({}), "iothub-ack=none");
});

test("formatPropertyBag() writes null as a bare key and the empty string as key= (Learn's C2D table)", () => {
  assert.equal(formatPropertyBag({ ack: "none", properties: { prop1: null, prop2: "", prop3: "a string" } }), "iothub-ack=none&prop1&prop2=&prop3=a%20string");
});

test("formatPropertyBag() writes dates in the seven-digit round-trip form and strings as given", () => {
  const bag = formatPropertyBag({ expiryTimeUtc: new Date(Date.UTC(2024, 4, 1, 12)), creationTimeUtc: Date.UTC(2024, 4, 1, 11, 59, 59, 123), ack: "negative" });
  assert.equal(bag, "%24.exp=2024-05-01T12%3A00%3A00.0000000Z&%24.ctime=2024-05-01T11%3A59%3A59.1230000Z&iothub-ack=negative");
  assert.equal(formatPropertyBag({ expiryTimeUtc: "2030-01-01T00:00:00Z" }), "%24.exp=2030-01-01T00%3A00%3A00Z&iothub-ack=none");
  assert.equal(formatRoundTripUtc(0), "1970-01-01T00:00:00.0000000Z");
});

test("formatPropertyBag() refuses application keys the device would misread, unknown acks, bad dates (ArgumentInvalid)", () => {
  assertArgumentInvalid(() => formatPropertyBag({ properties: { "": "x" } }));
  assertArgumentInvalid(() => formatPropertyBag({ properties: { "$.mid": "x" } }));
  assertArgumentInvalid(() => formatPropertyBag({ properties: { "iothub-ack": "full" } }));
  assertArgumentInvalid(() => formatPropertyBag({ ack: "sometimes" as "full" }));
  assertArgumentInvalid(() => formatPropertyBag({ expiryTimeUtc: new Date(Number.NaN) }));
  assertArgumentInvalid(() => formatPropertyBag({ properties: { k: "\ud800" } }));
});

test("parsePropertyBag() reads back what formatPropertyBag() writes", () => {
  const properties = { "spaced key": "v 1", "ümlaut": "€", "a=b": "c&d", slash: "/x/", hash: "#+", empty: "" };
  const bag = parsePropertyBag(formatPropertyBag({ messageId: "m", correlationId: "c", contentType: "text/plain", properties }));
  assert.deepEqual(bag.system, { messageId: "m", correlationId: "c", contentType: "text/plain" });
  assert.deepEqual(bag.application, { ...properties, "iothub-ack": "none" });
});
