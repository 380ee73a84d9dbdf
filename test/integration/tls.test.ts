import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect, type ConnectionOptions } from "node:tls";
import { startTestHub, type TestHub } from "./harness/start-test-hub.js";

/** Opens a TLS connection with `options`; resolves with what was negotiated, or with the handshake's error. */
function handshake(host: string, port: number, options: ConnectionOptions): Promise<{ protocol: string | null; cipher: string } | Error> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, servername: host, ...options }, () => {
      resolve({ protocol: socket.getProtocol(), cipher: socket.getCipher().name });
      socket.destroy();
    });
    socket.on("error", (error) => resolve(error));
  });
}

// Decision 0014: every listener speaks TLS 1.2 with IoT Hub's ECDHE + AES-GCM suites, as Azure has enforced since
// August 2025; a client that needs TLS 1.3 or an older suite fails the handshake here as it would there.
describe("TLS as IoT Hub negotiates it", () => {
  let hub: TestHub;
  let listeners: Array<[string, number]>;

  before(async () => {
    hub = await startTestHub();
    listeners = [
      ["MQTT", hub.ports.mqtt],
      ["AMQP", hub.ports.amqp!],
      ["HTTPS", hub.ports.https],
    ];
  });
  after(() => hub.dispose());

  test("a default Node client gets TLS 1.2 and an ECDHE AES-GCM suite on every listener", async () => {
    for (const [name, port] of listeners) {
      const got = await handshake(hub.hostName, port, {});
      assert.ok(!(got instanceof Error), `${name}: ${String(got)}`);
      assert.equal(got.protocol, "TLSv1.2", name);
      assert.match(got.cipher, /^ECDHE-ECDSA-AES(128|256)-GCM-SHA(256|384)$/, name);
    }
  });

  test("a client cannot resume a session: every connection is a full handshake, as with IoT Hub", async () => {
    for (const [name, port] of listeners) {
      const first = await new Promise<{ session: Buffer | undefined }>((resolve, reject) => {
        const socket = connect({ host: hub.hostName, port, servername: hub.hostName }, () => {
          // A TLS 1.2 session is known once the handshake is done; a ticket would come with it.
          resolve({ session: socket.getSession() });
          socket.destroy();
        });
        socket.on("error", reject);
      });
      assert.ok(first.session !== undefined, name);
      const reused = await new Promise<boolean>((resolve, reject) => {
        const socket = connect({ host: hub.hostName, port, servername: hub.hostName, session: first.session! }, () => {
          resolve(socket.isSessionReused());
          socket.destroy();
        });
        socket.on("error", reject);
      });
      assert.equal(reused, false, `${name} resumed a TLS session`);
    }
  });

  test("a client that insists on TLS 1.3 fails the handshake", async () => {
    for (const [name, port] of listeners) {
      const got = await handshake(hub.hostName, port, { minVersion: "TLSv1.3" });
      assert.ok(got instanceof Error, `${name} accepted TLS 1.3`);
    }
  });

  test("a client offering only a CBC suite IoT Hub no longer accepts fails the handshake", async () => {
    for (const [name, port] of listeners) {
      const got = await handshake(hub.hostName, port, { maxVersion: "TLSv1.2", ciphers: "ECDHE-ECDSA-AES128-SHA256" });
      assert.ok(got instanceof Error, `${name} accepted ECDHE-ECDSA-AES128-SHA256`);
    }
  });
});
