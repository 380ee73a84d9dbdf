import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { PROMETHEUS_CONTENT_TYPE } from "./render-text.js";

export interface MetricsServerDeps {
  /** Renders the current metrics in the Prometheus text format. */
  readonly scrape: () => Promise<string>;
  /** Where a failed scrape is reported; the scraper only sees a 500. */
  readonly reportError: (error: unknown) => void;
}

export interface MetricsServer {
  /** Binds and resolves with the bound port (0 picks a free one). */
  listen(bind: string, port: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * The `GET /metrics` listener: plain HTTP without authentication, as Prometheus scrapes by default, on its own port
 * so that it can be exposed to a monitoring network (or not) independently of the device and service endpoints.
 * Anything but `GET`/`HEAD /metrics` is 404.
 */
export function createMetricsServer(deps: MetricsServerDeps): MetricsServer {
  const server = createServer((request, response) => void handle(deps, request, response));
  // Scrapers keep connections alive between scrapes; without this, close() would wait for them to go idle.
  const sockets = new Set<Socket>();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  return {
    listen: (bind, port) =>
      new Promise<number>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, bind, () => {
          server.off("error", reject);
          resolve((server.address() as AddressInfo).port);
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

async function handle(deps: MetricsServerDeps, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = (request.url ?? "").split("?")[0];
  if (path !== "/metrics" || (request.method !== "GET" && request.method !== "HEAD")) {
    response.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("Not found: the metrics are at GET /metrics\n");
    return;
  }
  let body: string;
  try {
    body = await deps.scrape();
  } catch (error) {
    deps.reportError(error);
    response.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end("The metrics could not be read\n");
    return;
  }
  response.writeHead(200, { "content-type": PROMETHEUS_CONTENT_TYPE, "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
  response.end(request.method === "HEAD" ? undefined : body);
}
