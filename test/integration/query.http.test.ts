import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import iothub from "azure-iothub";
import { startTestHub, type TestHub } from "./harness/start-test-hub.js";
import { serviceRequest } from "./harness/service-request.js";

const { Registry } = iothub;

describe("twin queries through azure-iothub Registry.createQuery", () => {
  let hub: TestHub;
  let registry: InstanceType<typeof Registry>;

  before(async () => {
    hub = await startTestHub();
    registry = Registry.fromConnectionString(hub.connectionStrings["iothubowner"]!);
    const devices = Array.from({ length: 7 }, (_, i) => ({
      deviceId: `q-${i}`,
      tags: { site: i < 4 ? "north" : "south", index: i },
      ...(i === 6 ? { status: "disabled" } : {}),
    }));
    await registry.addDevices(devices.map(({ deviceId, status }) => ({ deviceId, ...(status ? { status } : {}) })));
    for (const d of devices) await registry.updateTwin(d.deviceId, { tags: d.tags, properties: { desired: { level: d.tags.index * 10 } } }, "*");
    await registry.addModule({ deviceId: "q-0", moduleId: "m" });
  });
  after(() => hub.dispose());

  async function all(sql: string, pageSize?: number): Promise<{ items: any[]; pages: number }> {
    const query = registry.createQuery(sql, pageSize);
    const items: any[] = [];
    let pages = 0;
    while (query.hasMoreResults) {
      // The promise form of next() ignores the stored token unless it is passed back in (azure-iothub 1.16).
      const { result } = await query.next(query.continuationToken);
      items.push(...(result as any[]));
      pages++;
      assert.ok(pages < 50, "the query should end");
    }
    return { items, pages };
  }

  test("WHERE on tags, paged by x-ms-max-item-count", async () => {
    const { items, pages } = await all("SELECT * FROM devices WHERE tags.site = 'north'", 3);
    assert.deepEqual(items.map((t) => t.deviceId), ["q-0", "q-1", "q-2", "q-3"]);
    assert.equal(pages, 2);
  });

  test("a page exactly full with nothing left carries no continuation", async () => {
    const { items, pages } = await all("SELECT * FROM devices WHERE tags.site = 'south'", 3);
    assert.equal(items.length, 3);
    assert.equal(pages, 1);
  });

  test("nextAsTwin returns Twin objects whose etag updates the twin", async () => {
    const query = registry.createQuery("SELECT * FROM devices WHERE deviceId = 'q-1'");
    const { result } = await query.nextAsTwin();
    assert.equal(result.length, 1);
    const twin = result[0]!;
    assert.equal(twin.deviceId, "q-1");
    assert.equal(twin.etag, (await registry.getTwin("q-1")).responseBody.etag);
    await twin.update({ tags: { touched: true } });
  });

  test("AND/OR/NOT, comparisons, IN and IS_DEFINED over desired properties and status", async () => {
    const ids = async (sql: string) => (await all(sql)).items.map((t) => t.deviceId);
    assert.deepEqual(await ids("SELECT * FROM devices WHERE properties.desired.level >= 30 AND tags.site = 'north'"), ["q-3"]);
    assert.deepEqual(await ids("SELECT * FROM devices WHERE deviceId IN ['q-1', 'q-5'] OR status = 'disabled'"), ["q-1", "q-5", "q-6"]);
    assert.deepEqual(await ids("SELECT * FROM devices WHERE NOT (tags.site = 'north') AND IS_DEFINED(tags.index) AND tags.index < 6"), ["q-4", "q-5"]);
  });

  test("COUNT and GROUP BY", async () => {
    const { items } = await all("SELECT COUNT() AS total FROM devices WHERE tags.site = 'north'");
    assert.deepEqual(items, [{ total: 4 }]);
    const groups = (await all("SELECT tags.site, COUNT() AS n FROM devices GROUP BY tags.site")).items;
    const bySite = Object.fromEntries(groups.map((g) => [g.site, g.n]));
    assert.deepEqual(bySite, { north: 4, south: 3 });
  });

  test("projections answer x-ms-item-type raw; SELECT * answers twin", async () => {
    const raw = await serviceRequest(hub, "POST", "/devices/query?api-version=2021-04-12", {
      body: JSON.stringify({ query: "SELECT deviceId, tags.site FROM devices WHERE deviceId = 'q-5'" }),
      headers: { "content-type": "application/json; charset=utf-8" },
    });
    assert.equal(raw.headers["x-ms-item-type"], "raw");
    assert.equal(raw.headers["x-ms-continuation"], undefined);
    assert.deepEqual(raw.json, [{ deviceId: "q-5", site: "south" }]);
    const twins = await serviceRequest(hub, "POST", "/devices/query?api-version=2021-04-12", {
      body: JSON.stringify({ query: "SELECT * FROM devices" }),
      headers: { "content-type": "application/json; charset=utf-8" },
    });
    assert.equal(twins.headers["x-ms-item-type"], "twin");
  });

  test("FROM devices.modules", async () => {
    const { items } = await all("SELECT * FROM devices.modules WHERE deviceId = 'q-0'");
    assert.deepEqual(items.map((t) => [t.deviceId, t.moduleId]), [["q-0", "m"]]);
  });

  test("a syntax error is ArgumentError naming the problem", async () => {
    await assert.rejects(registry.createQuery("SELECT * FROM devices WHERE").next(), (err: Error & { responseBody?: string }) => {
      assert.equal(err.name, "ArgumentError");
      assert.match(err.responseBody ?? "", /ErrorCode:ArgumentInvalid;/);
      return true;
    });
  });

  test("a body without a query is ArgumentNull; a forged continuation token is refused", async () => {
    const empty = await serviceRequest(hub, "POST", "/devices/query?api-version=2021-04-12", { body: "{}", headers: { "content-type": "application/json" } });
    assert.equal(empty.status, 400);
    assert.equal(empty.headers["iothub-errorcode"], "ArgumentNull");
    const forged = await serviceRequest(hub, "POST", "/devices/query?api-version=2021-04-12", {
      body: JSON.stringify({ query: "SELECT * FROM devices" }),
      headers: { "content-type": "application/json", "x-ms-continuation": "not-a-token" },
    });
    assert.equal(forged.status, 400);
    assert.equal(forged.headers["iothub-errorcode"], "ArgumentInvalid");
  });
});
