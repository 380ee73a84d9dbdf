import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import iothub from "azure-iothub";
import { BlobServiceClient, StorageSharedKeyCredential, type ContainerClient } from "@azure/storage-blob";
import { startTestHub, type TestHub } from "./harness/start-test-hub.js";
import { deviceClient } from "./harness/device-client.js";
import { deviceRequest, deviceToken, httpDeviceClient, httpX509Client, selfSignedCertificate, type DeviceClient } from "./harness/http-device-client.js";
import { SqliteFileUploadStore } from "../../src/storage/sqlite/sqlite-file-upload-store.js";
import { AzuriteProcess } from "../../src/storage/blob/azurite-process.js";
import { AZURITE_ACCOUNT_KEY, AZURITE_ACCOUNT_NAME } from "../../src/storage/blob/embedded-azurite-storage.js";
import { issueServerCertificate } from "../../src/tls/issue-server-certificate.js";
import type { FileNotificationRecord } from "../../src/hub/index.js";

const { Registry } = iothub;
const API = "api-version=2021-04-12";
const JSON_TYPE = { "content-type": "application/json" };

interface UploadParams {
  correlationId: string;
  hostName: string;
  containerName: string;
  blobName: string;
  sasToken: string;
}

/** The container behind a SAS reply, read with the account key (as a back end reads the hub's linked storage). */
function containerOf(params: UploadParams, accountKey = AZURITE_ACCOUNT_KEY): ContainerClient {
  const credential = new StorageSharedKeyCredential(AZURITE_ACCOUNT_NAME, accountKey);
  return new BlobServiceClient(`https://${params.hostName}`, credential).getContainerClient(params.containerName);
}

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A stream of `data` in 64 KB chunks, as a device would read a file. */
function streamOf(data: Buffer): Readable {
  let offset = 0;
  return new Readable({
    read() {
      if (offset >= data.length) this.push(null);
      else {
        this.push(data.subarray(offset, offset + 65536));
        offset += 65536;
      }
    },
  });
}

/**
 * The error an SDK call rejected with: a raw Error(statusMessage); getBlobSharedAccessSignature also attaches the
 * response and its body, notifyBlobUploadStatus only the message (device-protocol.md §4.4).
 */
async function sdkFailure(promise: Promise<unknown>): Promise<{ status: number | undefined; body: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as Error & { response?: { statusCode?: number }; responseBody?: unknown };
    return { status: e.response?.statusCode, body: String(e.responseBody ?? ""), message: e.message };
  }
  assert.fail("expected the SDK call to fail");
}

function portOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

describe("file upload with azure-iot-device", () => {
  let hub: TestHub;
  let registry: any;
  const keys = new Map<string, string>();
  const clients: DeviceClient[] = [];

  async function create(id: string): Promise<string> {
    const key = (await registry.create({ deviceId: id })).responseBody.authentication.symmetricKey?.primaryKey as string;
    keys.set(id, key);
    return key;
  }

  function client(id: string): DeviceClient {
    const c = httpDeviceClient(hub, id, keys.get(id)!);
    clients.push(c);
    return c;
  }

  /** The notifications queued for the service so far, read from the hub's files.db as a second reader. */
  async function notifications(): Promise<FileNotificationRecord[]> {
    const store = SqliteFileUploadStore.open({ path: join(hub.dataDir, "files.db") });
    try {
      return await store.notifications();
    } finally {
      await store.close();
    }
  }

  before(async () => {
    hub = await startTestHub();
    registry = Registry.fromConnectionString(hub.connectionStrings["iothubowner"]!);
    for (const id of ["uploader", "limited", "expiring", "bad-input", "other", "mqtt-uploader"]) await create(id);
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await hub?.dispose();
  });

  test("uploadToBlob lands a small and a 20 MB stream in the embedded Azurite, and queues their file notifications", async () => {
    const device = client("uploader");
    const small = Buffer.from("hello from a device\n");
    await device.uploadToBlob("logs/small.txt", streamOf(small), small.length);
    const large = randomBytes(20 * 1024 * 1024);
    await device.uploadToBlob("dumps/large.bin", streamOf(large), large.length);

    // Where the hub's storage is: the SAS reply names it (a probe, closed again so it takes no slot).
    const probe = (await device.getBlobSharedAccessSignature("probe")) as UploadParams;
    await device.notifyBlobUploadStatus(probe.correlationId, false, -1, "not uploaded");
    assert.equal(probe.hostName.split(":")[0], hub.hostName);
    assert.match(probe.hostName, /^[\d.]+:\d+\/devstoreaccount1$/);
    assert.equal(probe.containerName, "fileupload");
    assert.equal(probe.blobName, "uploader/probe");
    assert.match(probe.sasToken, /^\?.*\bsr=b\b.*/);
    assert.match(probe.sasToken, /\bsp=rw\b/);

    const container = containerOf(probe);
    assert.equal((await container.getBlobClient("uploader/logs/small.txt").downloadToBuffer()).toString(), small.toString());
    const downloaded = await container.getBlobClient("uploader/dumps/large.bin").downloadToBuffer();
    assert.equal(downloaded.length, large.length);
    assert.equal(sha256(downloaded), sha256(large));
    // Persistent hubs keep the blobs under the data directory.
    assert.ok(existsSync(join(hub.dataDir, "blob")));

    const queued = (await notifications()).filter((n) => n.deviceId === "uploader");
    assert.deepEqual(
      queued.map((n) => [n.blobName, n.blobSizeInBytes, n.blobUri]),
      [
        ["uploader/logs/small.txt", small.length, `https://${probe.hostName}/fileupload/uploader/logs/small.txt`],
        ["uploader/dumps/large.bin", large.length, `https://${probe.hostName}/fileupload/uploader/dumps/large.bin`],
      ],
    );
    for (const n of queued) {
      assert.ok(n.expiryTime - n.enqueuedTime === 3600_000);
      assert.equal(n.deliveryCount, 0);
    }
  });

  test("the SAS is limited to its blob: it cannot read or write another one", async () => {
    const device = client("other");
    const params = (await device.getBlobSharedAccessSignature("mine.txt")) as UploadParams;
    const own = new BlobServiceClient(`https://${params.hostName}${params.sasToken}`).getContainerClient(params.containerName);
    await own.getBlockBlobClient(params.blobName).upload("x", 1);
    await assert.rejects(own.getBlockBlobClient("other/not-mine.txt").upload("x", 1), (error: { statusCode?: number }) => error.statusCode === 403);
    await assert.rejects(own.getBlobClient("uploader/logs/small.txt").downloadToBuffer(), (error: { statusCode?: number }) => error.statusCode === 403);
    await device.notifyBlobUploadStatus(params.correlationId, true, 201, "Created");
    assert.ok((await notifications()).some((n) => n.blobName === "other/mine.txt" && n.blobSizeInBytes === 1));
  });

  test("an MQTT device client uploads over HTTPS as well", async () => {
    const device = deviceClient(hub, "mqtt-uploader", keys.get("mqtt-uploader")!);
    clients.push(device);
    await device.open();
    const data = Buffer.from("over mqtt, uploaded over https");
    await device.uploadToBlob("m.txt", streamOf(data), data.length);
    assert.ok((await notifications()).some((n) => n.blobName === "mqtt-uploader/m.txt" && n.blobSizeInBytes === data.length));
  });

  test("an X.509 device gets a SAS URI with its client certificate", async () => {
    const credential = await selfSignedCertificate("x509-uploader");
    await registry.create({ deviceId: "x509-uploader", authentication: { x509Thumbprint: { primaryThumbprint: credential.sha1 } } });
    const device = await httpX509Client(hub, "x509-uploader", credential);
    clients.push(device);
    const params = (await device.getBlobSharedAccessSignature("cert.txt")) as UploadParams;
    assert.equal(params.blobName, "x509-uploader/cert.txt");
    await device.notifyBlobUploadStatus(params.correlationId, false, 500, "gave up");
  });

  test("the 11th open upload is 403006; a notification frees a slot", async () => {
    const device = client("limited");
    const opened: UploadParams[] = [];
    for (let i = 0; i < 10; i++) opened.push((await device.getBlobSharedAccessSignature(`f${i}`)) as UploadParams);
    assert.equal(new Set(opened.map((o) => o.correlationId)).size, 10);
    const refused = await sdkFailure(device.getBlobSharedAccessSignature("f10"));
    assert.equal(refused.status, 403);
    assert.match(refused.body, /DeviceMaximumActiveFileUploadLimitExceeded/);
    assert.match(refused.body, /Number of active file upload requests cannot exceed 10/);
    await device.notifyBlobUploadStatus(opened[3]!.correlationId, false, -1, "Failed to upload to blob");
    const freed = (await device.getBlobSharedAccessSignature("f10")) as UploadParams;
    assert.equal(freed.blobName, "limited/f10");
    assert.equal((await sdkFailure(device.getBlobSharedAccessSignature("f11"))).status, 403);
    // A used correlation id cannot be notified again.
    assert.equal((await sdkFailure(device.notifyBlobUploadStatus(opened[3]!.correlationId, true, 201, "Created"))).message, "Bad Request");
  });

  test("an upload nobody notifies expires with its SAS TTL on the hub clock, which frees its slot", async () => {
    const device = client("expiring");
    const first = (await device.getBlobSharedAccessSignature("a")) as UploadParams;
    for (let i = 0; i < 9; i++) await device.getBlobSharedAccessSignature(`b${i}`);
    assert.equal((await sdkFailure(device.getBlobSharedAccessSignature("c"))).status, 403);
    hub.advanceClock(3600);
    await device.getBlobSharedAccessSignature("c");
    const late = await sdkFailure(device.notifyBlobUploadStatus(first.correlationId, true, 201, "Created"));
    assert.equal(late.message, "Bad Request");
  });

  describe("bad input", () => {
    const token = () => deviceToken(hub, "bad-input", keys.get("bad-input")!);

    test("an unknown correlation id is 400 IotHubFormatError (400006), in the path or in the body", async () => {
      const sdk = await sdkFailure(client("bad-input").notifyBlobUploadStatus("invalid-correlation-id", true, 201, "Created"));
      assert.equal(sdk.message, "Bad Request");
      const path = await deviceRequest(hub, "POST", `/devices/bad-input/files/notifications/invalid-correlation-id?${API}`, {
        authorization: token(),
        headers: JSON_TYPE,
        body: JSON.stringify({ isSuccess: true, statusCode: 201, statusDescription: "Created" }),
      });
      assert.equal(path.status, 400);
      assert.equal(path.headers["iothub-errorcode"], "IotHubFormatError");
      assert.match(path.text, /ErrorCode:IotHubFormatError/);
      // Correlation ids are base64: '/', '+' and '=' arrive percent-encoded in the path and still reach the route.
      const base64 = await deviceRequest(hub, "POST", `/devices/bad-input/files/notifications/${encodeURIComponent("ab/c+d==")}?${API}`, {
        authorization: token(),
        headers: JSON_TYPE,
        body: JSON.stringify({ isSuccess: true }),
      });
      assert.equal(base64.headers["iothub-errorcode"], "IotHubFormatError");
      assert.match(base64.text, /'ab\/c\+d=='/);
      const raw = await deviceRequest(hub, "POST", `/devices/bad-input/files/notifications?${API}`, {
        authorization: token(),
        headers: JSON_TYPE,
        body: JSON.stringify({ correlationId: "nope", isSuccess: true, statusCode: 201, statusDescription: "Created" }),
      });
      assert.equal(raw.status, 400);
      assert.equal(raw.headers["iothub-errorcode"], "IotHubFormatError");
    });

    test("the body form of the notification closes the upload (the C and .NET SDKs send it)", async () => {
      const sas = await deviceRequest(hub, "POST", `/devices/bad-input/files?${API}`, { authorization: token(), headers: JSON_TYPE, body: JSON.stringify({ blobName: "body-form" }) });
      assert.equal(sas.status, 200);
      const { correlationId } = sas.json as UploadParams;
      const done = await deviceRequest(hub, "POST", `/devices/bad-input/files/notifications?${API}`, {
        authorization: token(),
        headers: JSON_TYPE,
        body: JSON.stringify({ CorrelationId: correlationId, IsSuccess: false, StatusCode: 400, StatusDescription: "x" }),
      });
      assert.equal(done.status, 204);
    });

    test("a missing blobName is 400 ArgumentNull; a malformed body 400 IotHubFormatError; a bad isSuccess 400 ArgumentInvalid", async () => {
      const missing = await deviceRequest(hub, "POST", `/devices/bad-input/files?${API}`, { authorization: token(), headers: JSON_TYPE, body: "{}" });
      assert.equal(missing.status, 400);
      assert.equal(missing.headers["iothub-errorcode"], "ArgumentNull");
      const empty = await deviceRequest(hub, "POST", `/devices/bad-input/files?${API}`, { authorization: token() });
      assert.equal(empty.headers["iothub-errorcode"], "ArgumentNull");
      const malformed = await deviceRequest(hub, "POST", `/devices/bad-input/files?${API}`, { authorization: token(), headers: JSON_TYPE, body: "{blobName" });
      assert.equal(malformed.status, 400);
      assert.equal(malformed.headers["iothub-errorcode"], "IotHubFormatError");
      const array = await deviceRequest(hub, "POST", `/devices/bad-input/files?${API}`, { authorization: token(), headers: JSON_TYPE, body: "[]" });
      assert.equal(array.headers["iothub-errorcode"], "IotHubFormatError");
      const sas = (await client("bad-input").getBlobSharedAccessSignature("flag")) as UploadParams;
      const flag = await deviceRequest(hub, "POST", `/devices/bad-input/files/notifications/${encodeURIComponent(sas.correlationId)}?${API}`, {
        authorization: token(),
        headers: JSON_TYPE,
        body: JSON.stringify({ isSuccess: "true" }),
      });
      assert.equal(flag.status, 400);
      assert.equal(flag.headers["iothub-errorcode"], "ArgumentInvalid");
    });

    test("another device's path is 401, an unknown device 404, a missing api-version 400", async () => {
      const foreign = await deviceRequest(hub, "POST", `/devices/other/files?${API}`, { authorization: token(), headers: JSON_TYPE, body: JSON.stringify({ blobName: "x" }) });
      assert.equal(foreign.status, 401);
      const ghost = deviceToken(hub, "ghost", keys.get("bad-input")!);
      const unknown = await deviceRequest(hub, "POST", `/devices/ghost/files?${API}`, { authorization: ghost, headers: JSON_TYPE, body: JSON.stringify({ blobName: "x" }) });
      assert.equal(unknown.status, 404);
      const noVersion = await deviceRequest(hub, "POST", "/devices/bad-input/files", { authorization: token(), headers: JSON_TYPE, body: JSON.stringify({ blobName: "x" }) });
      assert.equal(noVersion.status, 400);
      assert.equal(noVersion.headers["iothub-errorcode"], "InvalidProtocolVersion");
      // The other device's correlation id is unknown to this one.
      const theirs = (await client("other").getBlobSharedAccessSignature("theirs")) as UploadParams;
      const stolen = await deviceRequest(hub, "POST", `/devices/bad-input/files/notifications/${encodeURIComponent(theirs.correlationId)}?${API}`, {
        authorization: token(),
        headers: JSON_TYPE,
        body: JSON.stringify({ isSuccess: true, statusCode: 201, statusDescription: "Created" }),
      });
      assert.equal(stolen.status, 400);
    });
  });

  test("closing the hub stops its Azurite", async () => {
    const params = (await client("other").getBlobSharedAccessSignature("last")) as UploadParams;
    const port = Number(/:(\d+)\//.exec(params.hostName)![1]);
    assert.equal(await portOpen(hub.hostName, port), true);
    await hub.close();
    assert.equal(await portOpen(hub.hostName, port), false);
  });
});

describe("file upload into a storage account given by connection string", () => {
  let hub: TestHub | undefined;
  let azurite: AzuriteProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), "malachite-storage-account-"));

  after(async () => {
    await hub?.dispose();
    await azurite?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the SAS reply points at the account's endpoint and container, and the upload lands there", async () => {
    // Stands for an Azure Storage account: an Azurite of the test's own, with a certificate from the test CA.
    const caDir = process.env["MALACHITE_TEST_CA_DIR"]!;
    const issuer = { certPem: readFileSync(join(caDir, "ca.pem"), "utf8"), keyPem: readFileSync(join(caDir, "ca-key.pem"), "utf8") };
    const cert = await issueServerCertificate({ issuer, names: ["127.0.0.1"] });
    writeFileSync(join(dir, "cert.pem"), cert.certPem);
    writeFileSync(join(dir, "key.pem"), cert.keyPem, { mode: 0o600 });
    azurite = new AzuriteProcess({ host: "127.0.0.1", port: 0, location: undefined, certPath: join(dir, "cert.pem"), keyPath: join(dir, "key.pem") });
    const port = await azurite.ready;
    const endpoint = `https://127.0.0.1:${port}/${AZURITE_ACCOUNT_NAME}`;
    hub = await startTestHub({
      storageConnectionString: `DefaultEndpointsProtocol=https;AccountName=${AZURITE_ACCOUNT_NAME};AccountKey=${AZURITE_ACCOUNT_KEY};BlobEndpoint=${endpoint};`,
      storageContainer: "device-files",
      storage: "memory",
    });
    const registry: any = Registry.fromConnectionString(hub.connectionStrings["iothubowner"]!);
    const key = (await registry.create({ deviceId: "acct" })).responseBody.authentication.symmetricKey?.primaryKey as string;
    const device = httpDeviceClient(hub, "acct", key);
    try {
      const data = Buffer.from("into the account");
      await device.uploadToBlob("a.txt", streamOf(data), data.length);
      const params = (await device.getBlobSharedAccessSignature("b.txt")) as UploadParams;
      assert.equal(params.hostName, `127.0.0.1:${port}/${AZURITE_ACCOUNT_NAME}`);
      assert.equal(params.containerName, "device-files");
      const container = new BlobServiceClient(endpoint, new StorageSharedKeyCredential(AZURITE_ACCOUNT_NAME, AZURITE_ACCOUNT_KEY)).getContainerClient("device-files");
      assert.equal((await container.getBlobClient("acct/a.txt").downloadToBuffer()).toString(), "into the account");
    } finally {
      await device.close();
    }
  });
});
