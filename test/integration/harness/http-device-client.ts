import { X509Certificate } from "node:crypto";
import { request } from "node:https";
import deviceSdk from "azure-iot-device";
import httpSdk from "azure-iot-device-http";
import { createSasToken } from "../../../src/hub/index.js";
import type { RunningHub } from "../../../src/app.js";
import { loadX509 } from "../../../src/tls/x509.js";
import { exportPrivateKeyPem, generateEcKeyPair, randomSerialNumber } from "../../../src/tls/keys.js";
import type { RawResponse } from "./service-request.js";

const x509 = await loadX509();

export type DeviceClient = InstanceType<typeof deviceSdk.Client>;

/** An official device SDK client over the HTTPS transport (`azure-iot-device-http` Http). */
export function httpDeviceClient(hub: RunningHub, deviceId: string, key: string, options: { keyName?: string } = {}): DeviceClient {
  const keyName = options.keyName === undefined ? "" : `SharedAccessKeyName=${options.keyName};`;
  return deviceSdk.Client.fromConnectionString(`HostName=${hub.hostName};DeviceId=${deviceId};${keyName}SharedAccessKey=${key}`, httpSdk.Http);
}

/**
 * An HTTPS device client authenticating with a client certificate (`x509=true` and setOptions({cert, key})). The Http
 * transport only answers setOptions when the options hold a receive policy (device-protocol.md §1.5), so one rides along.
 */
export async function httpX509Client(hub: RunningHub, deviceId: string, credential: { certPem: string; keyPem: string }): Promise<DeviceClient> {
  const client = deviceSdk.Client.fromConnectionString(`HostName=${hub.hostName};DeviceId=${deviceId};x509=true`, httpSdk.Http);
  await client.setOptions({ cert: credential.certPem, key: credential.keyPem, http: { receivePolicy: { manualPolling: true } } });
  return client;
}

/**
 * The client's Http transport, for what the Client does not expose: `receive()` polls the C2D queue once (with
 * `setOptions({http: {receivePolicy: {manualPolling: true}}})` set, nothing polls on its own).
 */
export function httpTransport(client: DeviceClient): { receive(): void } {
  return (client as unknown as { _transport: { receive(): void } })._transport;
}

/** A device (or module) SAS token as the SDK mints it: `sr` is the URL-encoded `host/devices/{id}[/modules/{mid}]`. */
export function deviceToken(hub: RunningHub, deviceId: string, key: string, moduleId?: string, expiresAt = Math.ceil(Date.now() / 1000) + 3600): string {
  const resource = `${hub.hostName}/devices/${deviceId}${moduleId === undefined ? "" : `/modules/${moduleId}`}`;
  return createSasToken(encodeURIComponent(resource), key, expiresAt);
}

/** A self-signed ECDSA client certificate with its key and thumbprints (upper-case hex, as IoT Hub shows them). */
export async function selfSignedCertificate(commonName: string): Promise<{ certPem: string; keyPem: string; sha1: string }> {
  const keys = await generateEcKeyPair();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: `CN=${commonName}`,
    keys,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 30 * 86_400_000),
    extensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false)],
  });
  const certPem = `${cert.toString("pem")}\n`;
  return { certPem, keyPem: await exportPrivateKeyPem(keys.privateKey), sha1: new X509Certificate(certPem).fingerprint.replace(/:/g, "") };
}

/**
 * A raw HTTPS call to the device API, for what the SDK cannot send (malformed bodies, foreign paths, stale lock
 * tokens). `authorization: null` sends no Authorization header; `cert`/`key` present a client certificate.
 */
export function deviceRequest(
  hub: RunningHub,
  method: string,
  path: string,
  options: { body?: string | Buffer; headers?: Record<string, string>; authorization?: string | null; cert?: string; key?: string } = {},
): Promise<RawResponse & { rawHeaders: string[]; body: Buffer }> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.authorization !== undefined && options.authorization !== null) headers["authorization"] = options.authorization;
  if (options.body !== undefined) headers["content-length"] = String(Buffer.byteLength(options.body));
  return new Promise((resolve, reject) => {
    const req = request(
      { host: hub.hostName, port: hub.ports.https, method, path, headers, agent: false, ...(options.cert === undefined ? {} : { cert: options.cert, key: options.key }) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          const text = body.toString("utf8");
          let json: unknown;
          try {
            json = text === "" ? undefined : JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, text, json, body });
        });
      },
    );
    req.on("error", reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}
