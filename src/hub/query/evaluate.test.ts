import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HubError } from "../errors/index.js";
import { compileQuery } from "./compile-query.js";

/** A device twin in the shape IoT Hub returns it (reference §2.1). */
function twin(deviceId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    deviceId,
    etag: "AAAAAAAAAAE=",
    deviceEtag: "NTQ3NzY2MTQ5",
    status: "enabled",
    statusUpdateTime: "0001-01-01T00:00:00Z",
    connectionState: "Disconnected",
    lastActivityTime: "2024-05-01T10:00:00.0000000Z",
    cloudToDeviceMessageCount: 0,
    authenticationType: "sas",
    x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null },
    modelId: "",
    version: 2,
    properties: {
      desired: { $metadata: { $lastUpdated: "2024-05-01T10:00:00Z" }, $version: 1 },
      reported: { $metadata: { $lastUpdated: "2024-05-01T10:00:00Z" }, $version: 1 },
    },
    capabilities: { iotEdge: false },
    ...extra,
  };
}

const d1 = twin("d1", {
  tags: { site: "north", floor: 1, a: { b: "deep" }, list: [1, 2], obj: { x: 1 }, nothing: null, flag: true, name: "Pump-7" },
  properties: {
    desired: { telemetry: { interval: 30 }, config: { mode: "fast" }, $metadata: {}, $version: 4 },
    reported: { telemetry: { interval: 30 }, config: { mode: "fast" }, lastDesiredVersion: 4, fw: "1.2.0", $metadata: {}, $version: 7 },
  },
  capabilities: { iotEdge: true },
});
const d2 = twin("d2", {
  status: "disabled",
  connectionState: "Connected",
  tags: { site: "south", floor: "1", flag: false, name: "pump-8" },
  properties: {
    desired: { telemetry: { interval: 60 }, $metadata: {}, $version: 2 },
    reported: { telemetry: { interval: 45 }, lastDesiredVersion: 1, $metadata: {}, $version: 3 },
  },
});
const d3 = twin("d3", { version: 9 });
const all = [d1, d2, d3];

/** Device ids selected by `WHERE <condition>`. */
function select(condition: string, docs: readonly Record<string, unknown>[] = all): string[] {
  const q = compileQuery(`SELECT * FROM devices WHERE ${condition}`);
  return docs.filter((d) => q.matches(d)).map((d) => d.deviceId as string);
}

describe("WHERE: fields and paths", () => {
  it("filters on top-level fields", () => {
    assert.deepEqual(select("deviceId = 'd2'"), ["d2"]);
    assert.deepEqual(select("status = 'enabled'"), ["d1", "d3"]);
    assert.deepEqual(select("connectionState = 'Connected'"), ["d2"]);
    assert.deepEqual(select("version > 5"), ["d3"]);
    assert.deepEqual(select("x509Thumbprint.primaryThumbprint = null"), ["d1", "d2", "d3"]);
  });

  it("filters on tags, nested tags and desired/reported properties", () => {
    assert.deepEqual(select("tags.site = 'north'"), ["d1"]);
    assert.deepEqual(select("tags.a.b = 'deep'"), ["d1"]);
    assert.deepEqual(select("properties.desired.telemetry.interval = 60"), ["d2"]);
    assert.deepEqual(select("properties.reported.fw = '1.2.0'"), ["d1"]);
  });

  it("filters on capabilities.iotEdge", () => {
    assert.deepEqual(select("capabilities.iotEdge = true"), ["d1"]);
    assert.deepEqual(select("capabilities.iotEdge"), ["d1"]);
    assert.deepEqual(select("capabilities.iotEdge = false"), ["d2", "d3"]);
  });

  it("addresses $version and $metadata (§1.2)", () => {
    assert.deepEqual(select("properties.desired.$version = properties.reported.lastDesiredVersion"), ["d1"]);
    assert.deepEqual(select("properties.reported.$version >= 3"), ["d1", "d2"]);
    assert.deepEqual(select("IS_DEFINED(properties.desired.$metadata.$lastUpdated)"), ["d3"]);
  });

  it("matches property names case-insensitively but values case-sensitively (§1.4)", () => {
    assert.deepEqual(select("DeviceId = 'd1'"), ["d1"]);
    assert.deepEqual(select("TAGS.Site = 'north'"), ["d1"]);
    assert.deepEqual(select("deviceId = 'D1'"), []);
    assert.deepEqual(select("status = 'Enabled'"), []);
  });

  it("prefers the exact spelling when a document has keys differing only in case", () => {
    const doc = twin("x", { tags: { Mode: "upper", mode: "lower" } });
    assert.deepEqual(select("tags.mode = 'lower'", [doc]), ["x"]);
    assert.deepEqual(select("tags.Mode = 'upper'", [doc]), ["x"]);
  });

  it("accepts the devices. prefix (Azure IoT Explorer sends it)", () => {
    assert.deepEqual(select("devices.deviceId = 'd1'"), ["d1"]);
    assert.deepEqual(select("devices.tags.site = 'south'"), ["d2"]);
  });

  it("reads [[...]] quoted segments", () => {
    const doc = twin("q", { tags: { group: { name: "g1" } }, configurations: { "my-config": { status: "Applied" } } });
    assert.deepEqual(select("tags.[[group]].name = 'g1'", [doc]), ["q"]);
    assert.deepEqual(select("configurations.[[my-config]].status = 'Applied'", [doc]), ["q"]);
  });

  it("does not see inherited properties or index into arrays", () => {
    assert.deepEqual(select("IS_DEFINED(tags.constructor)"), []);
    assert.deepEqual(select("IS_DEFINED(tags.toString)"), []);
    assert.deepEqual(select("IS_DEFINED(tags.list.length)"), []);
    const doc = twin("p", { tags: { constructor: "own" } });
    assert.deepEqual(select("tags.constructor = 'own'", [doc]), ["p"]);
  });
});

describe("WHERE: comparison operators", () => {
  it("supports = != <> < > <= >= on numbers", () => {
    const docs = [0, 1, 2].map((n) => twin(`n${n}`, { tags: { n } }));
    assert.deepEqual(select("tags.n = 1", docs), ["n1"]);
    assert.deepEqual(select("tags.n != 1", docs), ["n0", "n2"]);
    assert.deepEqual(select("tags.n <> 1", docs), ["n0", "n2"]);
    assert.deepEqual(select("tags.n < 1", docs), ["n0"]);
    assert.deepEqual(select("tags.n > 1", docs), ["n2"]);
    assert.deepEqual(select("tags.n <= 1", docs), ["n0", "n1"]);
    assert.deepEqual(select("tags.n >= 1", docs), ["n1", "n2"]);
  });

  it("works with the literal on the left", () => {
    const docs = [0, 1, 2].map((n) => twin(`n${n}`, { tags: { n } }));
    assert.deepEqual(select("1 < tags.n", docs), ["n2"]);
    assert.deepEqual(select("1 >= tags.n", docs), ["n0", "n1"]);
    assert.deepEqual(select("'d1' = deviceId"), ["d1"]);
  });

  it("compares strings ordinally (ISO timestamps compare as text, §1.3)", () => {
    assert.deepEqual(select("lastActivityTime > '2024-01-01'"), ["d1", "d2", "d3"]);
    assert.deepEqual(select("statusUpdateTime < '2016-09-01'"), ["d1", "d2", "d3"]);
    assert.deepEqual(select("tags.name < 'a'"), ["d1"]); // 'P' sorts before 'a'
    assert.deepEqual(select("tags.name > 'Pump'"), ["d1", "d2"]);
  });

  it("compares two paths", () => {
    assert.deepEqual(select("properties.desired.telemetry.interval = properties.reported.telemetry.interval"), ["d1"]);
    assert.deepEqual(select("properties.desired.telemetry.interval > properties.reported.telemetry.interval"), ["d2"]);
  });

  it("compares booleans and nulls of the same type", () => {
    assert.deepEqual(select("tags.flag = true"), ["d1"]);
    assert.deepEqual(select("tags.flag != true"), ["d2"]);
    assert.deepEqual(select("tags.flag < true"), ["d2"]);
    assert.deepEqual(select("tags.nothing = null"), ["d1"]);
    assert.deepEqual(select("tags.nothing != null"), []);
  });
});

describe("WHERE: types and undefined (§1.4)", () => {
  it("never matches across types, for = and for !=", () => {
    assert.deepEqual(select("tags.floor = 1"), ["d1"]);
    assert.deepEqual(select("tags.floor = '1'"), ["d2"]);
    assert.deepEqual(select("tags.floor != 2"), ["d1"]);
    assert.deepEqual(select("tags.floor != '2'"), ["d2"]);
    assert.deepEqual(select("tags.site = null"), []);
    assert.deepEqual(select("tags.site != null"), []);
    assert.deepEqual(select("tags.flag = 1"), []);
  });

  it("never matches when a field is missing, even under NOT or !=", () => {
    assert.deepEqual(select("tags.site != 'north'"), ["d2"]);
    assert.deepEqual(select("NOT tags.site = 'north'"), ["d2"]);
    assert.deepEqual(select("NOT (tags.missing = 1)"), []);
    assert.deepEqual(select("tags.missing = undefined"), []);
    assert.deepEqual(select("tags.missing != undefined"), []);
  });

  it("never matches when comparing objects or arrays, even equal ones", () => {
    assert.deepEqual(select("properties.desired.config = properties.reported.config"), []);
    assert.deepEqual(select("properties.desired.config != properties.reported.config"), []);
    assert.deepEqual(select("tags.list = [1, 2]"), []);
    assert.deepEqual(select("tags.obj > 0"), []);
  });

  it("selects only on boolean true, not on truthy values", () => {
    assert.deepEqual(select("tags.site"), []);
    assert.deepEqual(select("1"), []);
    assert.deepEqual(select("null"), []);
    assert.deepEqual(select("true"), ["d1", "d2", "d3"]);
    assert.deepEqual(select("false"), []);
  });
});

describe("WHERE: logic", () => {
  it("AND, OR, NOT and parentheses", () => {
    assert.deepEqual(select("status = 'enabled' AND capabilities.iotEdge = false"), ["d3"]);
    assert.deepEqual(select("deviceId = 'd1' OR deviceId = 'd3'"), ["d1", "d3"]);
    assert.deepEqual(select("NOT deviceId = 'd1'"), ["d2", "d3"]);
    assert.deepEqual(select("(deviceId = 'd1' OR deviceId = 'd2') AND status = 'disabled'"), ["d2"]);
    assert.deepEqual(select("deviceId = 'd1' OR deviceId = 'd2' AND status = 'disabled'"), ["d1", "d2"]);
    assert.deepEqual(select("deviceId = 'd1' and status = 'enabled' and version = 2 and tags.floor = 1"), ["d1"]);
    assert.deepEqual(select("deviceId = 'x' or deviceId = 'y' or deviceId = 'd3'"), ["d3"]);
  });

  it("uses three-valued logic: false wins AND, true wins OR, undefined otherwise", () => {
    // tags.missing = 1 is undefined on every document.
    assert.deepEqual(select("tags.missing = 1 OR deviceId = 'd2'"), ["d2"]);
    assert.deepEqual(select("NOT (tags.missing = 1 OR deviceId = 'd2')"), []);
    assert.deepEqual(select("NOT (tags.missing = 1 AND deviceId = 'd2')"), ["d1", "d3"]);
    assert.deepEqual(select("NOT (tags.missing = 1 AND deviceId = 'd2' AND true)"), ["d1", "d3"]);
    assert.deepEqual(select("NOT (tags.missing = 1 OR deviceId = 'd2' OR false)"), []);
    assert.deepEqual(select("NOT NOT deviceId = 'd1'"), ["d1"]);
    assert.deepEqual(select("NOT tags.site"), []);
  });
});

describe("WHERE: IN and NIN", () => {
  it("IN selects listed values of the same type", () => {
    assert.deepEqual(select("deviceId IN ['d1', 'd3']"), ["d1", "d3"]);
    assert.deepEqual(select("deviceId IN ['d2']"), ["d2"]);
    assert.deepEqual(select("tags.floor IN [1, 2]"), ["d1"]);
    assert.deepEqual(select("tags.nothing IN [null]"), ["d1"]);
    assert.deepEqual(select("tags.flag IN [false]"), ["d2"]);
  });

  it("NIN selects present primitive values not in the list", () => {
    assert.deepEqual(select("deviceId NIN ['d1', 'd3']"), ["d2"]);
    // '1' is not the number 1, so it is not in the list (Cosmos IN semantics).
    assert.deepEqual(select("tags.floor NIN [1]"), ["d2"]);
  });

  it("neither IN nor NIN selects a missing field or an object", () => {
    assert.deepEqual(select("tags.site NIN ['north']"), ["d2"]);
    assert.deepEqual(select("tags.missing NIN ['x']"), []);
    assert.deepEqual(select("tags.obj NIN [1]"), []);
    assert.deepEqual(select("tags.list IN [1]"), []);
  });

  it("can be negated with NOT", () => {
    assert.deepEqual(select("NOT deviceId IN ['d1']"), ["d2", "d3"]);
  });
});

describe("WHERE: functions (§1.5)", () => {
  it("IS_DEFINED is true for present values, including null, objects and arrays", () => {
    assert.deepEqual(select("IS_DEFINED(tags)"), ["d1", "d2"]);
    assert.deepEqual(select("IS_DEFINED(tags.nothing)"), ["d1"]);
    assert.deepEqual(select("IS_DEFINED(tags.obj) AND IS_DEFINED(tags.list)"), ["d1"]);
    assert.deepEqual(select("NOT IS_DEFINED(tags.site)"), ["d3"]);
    assert.deepEqual(select("is_defined(properties.reported.fw)"), ["d1"]);
  });

  it("STARTSWITH and ENDSWITH match ordinally and case-sensitively", () => {
    assert.deepEqual(select("STARTSWITH(tags.name, 'Pump')"), ["d1"]);
    assert.deepEqual(select("STARTSWITH(tags.name, 'pump')"), ["d2"]);
    assert.deepEqual(select("startswith(devices.deviceId, 'd')"), ["d1", "d2", "d3"]);
    assert.deepEqual(select("ENDSWITH(tags.name, '-8')"), ["d2"]);
    assert.deepEqual(select("EndsWith(deviceId, '')"), ["d1", "d2", "d3"]);
  });

  it("STARTSWITH and ENDSWITH are undefined for non-strings", () => {
    assert.deepEqual(select("STARTSWITH(tags.floor, '1')"), ["d2"]);
    assert.deepEqual(select("NOT STARTSWITH(tags.floor, 'x')"), ["d2"]);
    assert.deepEqual(select("NOT ENDSWITH(tags.missing, 'x')"), []);
    assert.deepEqual(select("ENDSWITH(deviceId, 1)"), []);
  });
});

describe("WHERE: arithmetic (§1.4)", () => {
  it("evaluates + - * / % and unary minus on numbers", () => {
    assert.deepEqual(select("properties.desired.telemetry.interval * 2 = 120"), ["d2"]);
    assert.deepEqual(select("properties.desired.telemetry.interval - properties.reported.telemetry.interval = 15"), ["d2"]);
    assert.deepEqual(select("properties.desired.telemetry.interval / 3 = 10"), ["d1"]);
    assert.deepEqual(select("properties.desired.telemetry.interval % 7 = 4"), ["d2"]);
    assert.deepEqual(select("version + 1 = 10"), ["d3"]);
    assert.deepEqual(select("-version = -9"), ["d3"]);
    assert.deepEqual(select("2 + 3 * 4 = 14"), ["d1", "d2", "d3"]);
  });

  it("is undefined for non-numbers and non-finite results", () => {
    assert.deepEqual(select("tags.floor + 1 = 2"), ["d1"]);
    assert.deepEqual(select("tags.site + 'x' = 'northx'"), []);
    assert.deepEqual(select("version / 0 > 0"), []);
    assert.deepEqual(select("NOT (-tags.site = 1)"), []);
  });
});

describe("WHERE: guards", () => {
  it("rejects long left-deep chains instead of recursing per operator", () => {
    assert.throws(
      () => compileQuery(`SELECT * FROM devices WHERE version${" + 1".repeat(1000)} = 0`),
      (err: unknown) => err instanceof HubError && err.code === 400004 && /nested too deeply/.test(err.message),
    );
  });

  it("handles long flat AND chains and long IN lists", () => {
    const many = Array.from({ length: 300 }, () => "status = 'enabled'").join(" AND ");
    assert.deepEqual(select(many), ["d1", "d3"]);
    const ids = Array.from({ length: 800 }, (_, i) => `'x${i}'`).join(",");
    assert.deepEqual(select(`deviceId IN [${ids}, 'd2']`), ["d2"]);
  });
});
