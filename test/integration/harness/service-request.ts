import { request } from "node:https";
import { createSasToken } from "../../../src/hub/index.js";
import type { RunningHub } from "../../../src/app.js";

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly json: unknown;
}

/** Key of a policy, read from the hub's connection string. */
export function policyKey(hub: RunningHub, policy: string): string {
  const cs = hub.connectionStrings[policy];
  if (cs === undefined) throw new Error(`No policy ${policy}`);
  return /SharedAccessKey=([^;]+)/.exec(cs)![1]!;
}

/** A service token for a policy, minted as the SDK mints it. */
export function serviceToken(hub: RunningHub, policy = "iothubowner", expiresAt = Math.ceil(Date.now() / 1000) + 3600): string {
  return createSasToken(hub.hostName, policyKey(hub, policy), expiresAt, policy);
}

/**
 * A raw HTTPS call to the hub, for what the SDK cannot send (malformed bodies, wrong headers). `path` includes the
 * query string; `authorization: null` sends no Authorization header.
 */
export function serviceRequest(
  hub: RunningHub,
  method: string,
  path: string,
  options: { body?: string | Buffer; headers?: Record<string, string>; authorization?: string | null } = {},
): Promise<RawResponse> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  const authorization = options.authorization === undefined ? serviceToken(hub) : options.authorization;
  if (authorization !== null) headers["authorization"] = authorization;
  if (options.body !== undefined) headers["content-length"] = String(Buffer.byteLength(options.body));
  return new Promise((resolve, reject) => {
    const req = request({ host: hub.hostName, port: hub.ports.https, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: unknown;
        try {
          json = text === "" ? undefined : JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on("error", reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}
