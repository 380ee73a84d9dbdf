import { test } from "node:test";
import assert from "node:assert/strict";
import { Agent, request } from "node:http";
import { createMetricsServer } from "./metrics-server.js";

function get(port: number, path: string, method = "GET"): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"], body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end();
  });
}

test("GET /metrics answers the scrape as text/plain version 0.0.4; anything else is 404", async (t) => {
  const server = createMetricsServer({ scrape: async () => "up 1\n", reportError: () => undefined });
  const port = await server.listen("127.0.0.1", 0);
  t.after(() => server.close());
  const ok = await get(port, "/metrics");
  assert.equal(ok.status, 200);
  assert.equal(ok.type, "text/plain; version=0.0.4; charset=utf-8");
  assert.equal(ok.body, "up 1\n");
  assert.equal((await get(port, "/metrics?name[]=up")).status, 200);
  assert.equal((await get(port, "/")).status, 404);
  assert.equal((await get(port, "/metrics/x")).status, 404);
  assert.equal((await get(port, "/metrics", "POST")).status, 404);
});

test("a scrape that fails is a 500 and is reported, and the listener keeps serving", async (t) => {
  const reported: unknown[] = [];
  let fail = true;
  const server = createMetricsServer({
    scrape: async () => {
      if (fail) throw new Error("store closed");
      return "";
    },
    reportError: (error) => reported.push(error),
  });
  const port = await server.listen("127.0.0.1", 0);
  t.after(() => server.close());
  assert.equal((await get(port, "/metrics")).status, 500);
  assert.equal(reported.length, 1);
  fail = false;
  assert.equal((await get(port, "/metrics")).status, 200);
});

test("close() does not wait for a scraper's kept-alive connection", async () => {
  const server = createMetricsServer({ scrape: async () => "", reportError: () => undefined });
  const port = await server.listen("127.0.0.1", 0);
  const agent = new Agent({ keepAlive: true });
  await new Promise<void>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/metrics", agent }, (res) => {
      res.resume();
      res.on("end", () => resolve());
    });
    req.on("error", reject);
    req.end();
  });
  await server.close();
  agent.destroy();
});
