import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HubError } from "../errors/index.js";
import { compileQuery } from "./index.js";

type Doc = Record<string, unknown>;

function device(deviceId: string, tags?: Doc, reported: Doc = {}): Doc {
  const doc: Doc = {
    deviceId,
    etag: "AAAAAAAAAAE=",
    deviceEtag: "NTQ3NzY2MTQ5",
    status: "enabled",
    statusUpdateTime: "0001-01-01T00:00:00Z",
    connectionState: "Disconnected",
    lastActivityTime: "0001-01-01T00:00:00Z",
    cloudToDeviceMessageCount: 0,
    authenticationType: "sas",
    x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null },
    modelId: "",
    version: 2,
  };
  if (tags !== undefined) doc.tags = tags; // IoT Hub omits `tags` when there are none (§2.1)
  doc.properties = { desired: { $metadata: {}, $version: 1 }, reported: { ...reported, $metadata: {}, $version: 1 } };
  doc.capabilities = { iotEdge: false };
  return doc;
}

function moduleTwin(deviceId: string, moduleId: string, reported: Doc = {}): Doc {
  const { deviceId: _, ...rest } = device(deviceId, undefined, reported);
  return { deviceId, moduleId, ...rest };
}

const docs = [
  device("d1", { site: "north", floor: 1 }, { status: "Success", temp: 20 }),
  device("d2", { site: "south", floor: 2 }, { status: "Pending", temp: 25 }),
  device("d3", { site: "north", floor: 3 }, { status: "Success", temp: 30 }),
  device("d4", undefined, { status: "Error" }),
];

function assertInvalid(text: string, pattern: RegExp): void {
  assert.throws(
    () => compileQuery(text),
    (err: unknown) => {
      assert.ok(err instanceof HubError);
      assert.equal(err.errorName, "ArgumentInvalid");
      assert.equal(err.code, 400004);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

/** Runs a non-aggregate query the way the HTTP handler will: filter, TOP, project. */
function run(text: string, input: readonly Doc[] = docs): unknown[] {
  const q = compileQuery(text);
  assert.equal(q.isAggregate, false);
  const out: unknown[] = [];
  for (const doc of input) {
    if (q.top !== undefined && out.length >= q.top) break;
    if (q.matches(doc)) out.push(q.project(doc));
  }
  return out;
}

describe("compileQuery: SELECT *", () => {
  it("returns whole twins with item type twin", () => {
    const q = compileQuery("SELECT * FROM devices WHERE tags.site = 'north'");
    assert.equal(q.collection, "devices");
    assert.equal(q.itemType, "twin");
    assert.equal(q.isAggregate, false);
    assert.equal(q.top, undefined);
    assert.equal(q.project(docs[0]!), docs[0]); // the document itself, etag included (§1.6)
    assert.deepEqual(run("SELECT * FROM devices WHERE tags.site = 'north'"), [docs[0], docs[2]]);
  });

  it("matches everything without WHERE", () => {
    const q = compileQuery("SELECT * FROM devices");
    assert.ok(docs.every((d) => q.matches(d)));
  });

  it("exposes TOP", () => {
    const q = compileQuery("SELECT TOP 2 * FROM devices");
    assert.equal(q.top, 2);
    assert.deepEqual(run("SELECT TOP 2 * FROM devices").map((d) => (d as Doc).deviceId), ["d1", "d2"]);
    assert.deepEqual(q.aggregate(docs).map((d) => (d as Doc).deviceId), ["d1", "d2"]);
    assert.deepEqual(compileQuery("SELECT TOP 0 * FROM devices").aggregate(docs), []);
  });
});

describe("compileQuery: FROM devices.modules", () => {
  const modules = [
    moduleTwin("edge1", "$edgeAgent", { schemaVersion: "1.1" }),
    moduleTwin("edge1", "$edgeHub", { schemaVersion: "1.1" }),
    moduleTwin("dev2", "sensor", { status: "ok" }),
  ];

  it("reports the modules collection and filters on moduleId", () => {
    const q = compileQuery("SELECT * FROM devices.modules WHERE moduleId = 'sensor'");
    assert.equal(q.collection, "modules");
    assert.equal(q.itemType, "twin");
    assert.deepEqual(modules.filter((m) => q.matches(m)), [modules[2]]);
  });

  it("accepts the devices.modules. prefix and STARTSWITH on moduleId", () => {
    const q = compileQuery("SELECT * FROM devices.modules WHERE STARTSWITH(devices.modules.moduleId, '$edge') AND deviceId = 'edge1'");
    assert.equal(modules.filter((m) => q.matches(m)).length, 2);
  });

  it("projects and counts modules", () => {
    assert.deepEqual(run("SELECT deviceId, moduleId FROM devices.modules WHERE IS_DEFINED(properties.reported.schemaVersion)", modules), [
      { deviceId: "edge1", moduleId: "$edgeAgent" },
      { deviceId: "edge1", moduleId: "$edgeHub" },
    ]);
    const q = compileQuery("SELECT deviceId, COUNT() AS n FROM devices.modules GROUP BY deviceId");
    assert.deepEqual(q.aggregate(modules), [{ deviceId: "edge1", n: 2 }, { deviceId: "dev2", n: 1 }]);
  });
});

describe("compileQuery: projections (§1.6)", () => {
  it("names fields after the last segment and uses item type raw", () => {
    const q = compileQuery("SELECT deviceId, tags.site FROM devices");
    assert.equal(q.itemType, "raw");
    assert.deepEqual(q.project(docs[0]!), { deviceId: "d1", site: "north" });
  });

  it("uses the document's casing for unaliased names", () => {
    assert.deepEqual(run("SELECT DeviceId, LastActivityTime FROM devices WHERE deviceId = 'd1'"), [
      { deviceId: "d1", lastActivityTime: "0001-01-01T00:00:00Z" },
    ]);
  });

  it("uses aliases verbatim", () => {
    assert.deepEqual(run("SELECT properties.reported.status AS s, deviceId AS Id FROM devices WHERE deviceId = 'd2'"), [
      { s: "Pending", Id: "d2" },
    ]);
  });

  it("leaves missing fields out of the row", () => {
    assert.deepEqual(run("SELECT deviceId, tags.site FROM devices WHERE deviceId = 'd4'"), [{ deviceId: "d4" }]);
    assert.deepEqual(run("SELECT tags.nothing AS x FROM devices WHERE deviceId = 'd4'"), [{}]);
  });

  it("projects objects, $version and [[quoted]] names", () => {
    assert.deepEqual(run("SELECT tags, properties.reported.$version FROM devices WHERE deviceId = 'd1'"), [
      { tags: { site: "north", floor: 1 }, $version: 1 },
    ]);
    const doc = device("q", { "my-tag": 5 });
    assert.deepEqual(run("SELECT tags.[[my-tag]] FROM devices", [doc]), [{ "my-tag": 5 }]);
  });

  it("strips the devices. prefix from names", () => {
    assert.deepEqual(run("SELECT devices.deviceId FROM devices WHERE deviceId = 'd3'"), [{ deviceId: "d3" }]);
  });

  it("keeps a field named __proto__ as data", () => {
    const doc = JSON.parse(`{"deviceId":"p","tags":{"__proto__":{"x":1}}}`) as Doc;
    const row = compileQuery("SELECT tags.__proto__ FROM devices").project(doc) as Doc;
    assert.deepEqual(Object.keys(row), ["__proto__"]);
    assert.equal(JSON.stringify(row), `{"__proto__":{"x":1}}`);
  });

  it("rejects duplicate output names", () => {
    assertInvalid("SELECT tags.status, properties.reported.status FROM devices", /output name 'status' is used more than once/);
    assertInvalid("SELECT deviceId, tags.x AS DeviceId FROM devices", /used more than once/);
  });
});

describe("compileQuery: COUNT and aggregates (§1.6)", () => {
  it("counts matching documents into one row", () => {
    const q = compileQuery("SELECT COUNT() AS numberOfDevices FROM devices WHERE tags.site = 'north'");
    assert.equal(q.isAggregate, true);
    assert.equal(q.itemType, "raw");
    assert.deepEqual(q.aggregate(docs), [{ numberOfDevices: 2 }]);
  });

  it("returns 0 over no documents", () => {
    assert.deepEqual(compileQuery("SELECT COUNT() AS n FROM devices").aggregate([]), [{ n: 0 }]);
    assert.deepEqual(compileQuery("SELECT COUNT() AS n FROM devices WHERE deviceId = 'none'").aggregate(docs), [{ n: 0 }]);
  });

  it("gives the same answer whether passed all documents or only matches", () => {
    const q = compileQuery("select count() as n from devices where tags.floor >= 2");
    assert.deepEqual(q.aggregate(docs), [{ n: 2 }]);
    assert.deepEqual(q.aggregate(docs.filter((d) => q.matches(d))), [{ n: 2 }]);
  });

  it("names unaliased aggregates $1, $2 in order", () => {
    assert.deepEqual(compileQuery("SELECT COUNT(), MAX(tags.floor) AS highest, MIN(tags.floor) FROM devices").aggregate(docs), [
      { $1: 4, highest: 3, $2: 1 },
    ]);
  });

  it("computes SUM, AVG, MIN and MAX over present values", () => {
    const q = compileQuery("SELECT SUM(properties.reported.temp) AS s, AVG(properties.reported.temp) AS a, MIN(properties.reported.temp) AS lo, MAX(properties.reported.temp) AS hi FROM devices");
    assert.deepEqual(q.aggregate(docs), [{ s: 75, a: 25, lo: 20, hi: 30 }]);
  });

  it("leaves out undefined aggregates: AVG/MIN/MAX of nothing, SUM/AVG over non-numbers", () => {
    const empty = compileQuery("SELECT SUM(tags.x) AS s, AVG(tags.x) AS a, MIN(tags.x) AS lo, MAX(tags.x) AS hi FROM devices");
    assert.deepEqual(empty.aggregate(docs), [{ s: 0 }]);
    const strings = compileQuery("SELECT SUM(tags.site) AS s, AVG(tags.site) AS a, MIN(tags.site) AS lo, MAX(tags.site) AS hi FROM devices");
    assert.deepEqual(strings.aggregate(docs), [{ lo: "north", hi: "south" }]);
    const objects = compileQuery("SELECT MIN(tags) AS lo, COUNT() AS n FROM devices");
    assert.deepEqual(objects.aggregate(docs), [{ n: 4 }]);
  });

  it("orders mixed types null < boolean < number < string for MIN/MAX", () => {
    const mixed = [device("a", { v: "x" }), device("b", { v: 5 }), device("c", { v: true }), device("d", { v: null })];
    assert.deepEqual(compileQuery("SELECT MIN(tags.v) AS lo, MAX(tags.v) AS hi FROM devices").aggregate(mixed), [{ lo: null, hi: "x" }]);
  });

  it("refuses project() on aggregate queries", () => {
    assert.throws(() => compileQuery("SELECT COUNT() FROM devices").project(docs[0]!), /aggregate/);
  });

  it("rejects mixing paths and aggregates without GROUP BY", () => {
    assertInvalid("SELECT deviceId, COUNT() FROM devices", /^Invalid query at position 8: 'deviceId' cannot be selected together with an aggregate unless the query has GROUP BY deviceId$/);
  });
});

describe("compileQuery: GROUP BY (§1.6)", () => {
  it("returns one row per group in order of first appearance", () => {
    const q = compileQuery("SELECT properties.reported.status AS status, COUNT() AS n FROM devices GROUP BY properties.reported.status");
    assert.equal(q.isAggregate, true);
    assert.deepEqual(q.aggregate(docs), [
      { status: "Success", n: 2 },
      { status: "Pending", n: 1 },
      { status: "Error", n: 1 },
    ]);
  });

  it("names an unaliased group field after its last segment, and applies WHERE", () => {
    const q = compileQuery("SELECT tags.site, COUNT() AS c FROM devices WHERE deviceId != 'd3' GROUP BY tags.site");
    assert.deepEqual(q.aggregate(docs), [{ site: "north", c: 1 }, { site: "south", c: 1 }, { c: 1 }]);
  });

  it("matches the GROUP BY path case-insensitively and with the devices. prefix", () => {
    const q = compileQuery("SELECT Tags.Site, COUNT() AS c FROM devices GROUP BY devices.tags.site");
    assert.deepEqual(q.aggregate(docs), [{ site: "north", c: 2 }, { site: "south", c: 1 }, { c: 1 }]);
  });

  it("keeps values of different types in different groups, and groups objects by value", () => {
    const mixed = [device("a", { v: 1 }), device("b", { v: "1" }), device("c", { v: 1 }), device("d", { v: { k: 1 } }), device("e", { v: { k: 1 } }), device("f", { v: null })];
    const q = compileQuery("SELECT tags.v, COUNT() AS n FROM devices GROUP BY tags.v");
    assert.deepEqual(q.aggregate(mixed), [{ v: 1, n: 2 }, { v: "1", n: 1 }, { v: { k: 1 }, n: 2 }, { v: null, n: 1 }]);
  });

  it("supports GROUP BY without aggregates (distinct values) and other aggregates per group", () => {
    assert.deepEqual(compileQuery("SELECT tags.site FROM devices GROUP BY tags.site").aggregate(docs), [{ site: "north" }, { site: "south" }, {}]);
    assert.deepEqual(compileQuery("SELECT tags.site AS site, MAX(tags.floor) AS f FROM devices WHERE IS_DEFINED(tags) GROUP BY tags.site").aggregate(docs), [
      { site: "north", f: 3 },
      { site: "south", f: 2 },
    ]);
  });

  it("applies TOP to the rows", () => {
    const q = compileQuery("SELECT TOP 1 tags.site, COUNT() AS c FROM devices GROUP BY tags.site");
    assert.equal(q.top, 1);
    assert.deepEqual(q.aggregate(docs), [{ site: "north", c: 2 }]);
  });

  it("rejects selecting other paths and SELECT *", () => {
    assertInvalid("SELECT deviceId, COUNT() FROM devices GROUP BY tags.site", /'deviceId' must be the GROUP BY path or be inside an aggregate/);
    assertInvalid("SELECT * FROM devices GROUP BY tags.site", /GROUP BY cannot be used with SELECT \*/);
  });
});
