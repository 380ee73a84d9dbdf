import { test } from "node:test";
import assert from "node:assert/strict";
import { loadConfig } from "../../config/load-config.js";
import { isValidContainerName, parseStorageConnectionString } from "./connection-string.js";

const KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

test("an account connection string gives the account, its key and its blob endpoint", () => {
  assert.deepEqual(parseStorageConnectionString(`DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${KEY};EndpointSuffix=core.windows.net`), {
    ok: true,
    account: { accountName: "acct", accountKey: KEY, blobEndpoint: "https://acct.blob.core.windows.net" },
  });
  assert.deepEqual(parseStorageConnectionString(`AccountName=devstoreaccount1;AccountKey=${KEY};BlobEndpoint=https://127.0.0.1:10000/devstoreaccount1/;`), {
    ok: true,
    account: { accountName: "devstoreaccount1", accountKey: KEY, blobEndpoint: "https://127.0.0.1:10000/devstoreaccount1" },
  });
});

test("connection strings the hub cannot sign with or the device SDK cannot reach are refused, without quoting the key", () => {
  const refused = [
    "UseDevelopmentStorage=true",
    "BlobEndpoint=https://acct.blob.core.windows.net;SharedAccessSignature=sv=2021&sig=abc",
    `AccountKey=${KEY}`,
    `AccountName=acct;AccountKey=not base64!`,
    `DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=${KEY}`,
    `AccountName=acct;AccountKey=${KEY};BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1`,
    "garbage",
  ];
  for (const text of refused) {
    const parsed = parseStorageConnectionString(text);
    assert.equal(parsed.ok, false, text);
    if (!parsed.ok) assert.doesNotMatch(parsed.reason, /Eby8/);
  }
});

test("container names follow Azure Storage's rules", () => {
  for (const name of ["fileupload", "abc", "a-b-c", "x1".repeat(31) + "y"]) assert.equal(isValidContainerName(name), true, name);
  for (const name of ["ab", "Upper", "-a-b", "a-b-", "a--b", "a_b", "x".repeat(64)]) assert.equal(isValidContainerName(name), false, name);
});

test("the file upload settings load from flags and the environment, with every problem reported", () => {
  const ok = loadConfig({
    flags: { storageConnectionString: `AccountName=acct;AccountKey=${KEY}`, storageContainer: "uploads" },
    env: { MALACHITE_FILE_UPLOAD_SAS_TTL_SECONDS: "120", MALACHITE_FILE_NOTIFICATIONS: "false" },
  });
  assert.ok(ok.ok);
  assert.equal(ok.config.storageConnectionString, `AccountName=acct;AccountKey=${KEY}`);
  assert.equal(ok.config.storageContainer, "uploads");
  assert.equal(ok.config.fileUploadSasTtlSeconds, 120);
  assert.equal(ok.config.fileNotifications, false);

  const defaults = loadConfig({ flags: {}, env: {} });
  assert.ok(defaults.ok);
  assert.deepEqual(
    [defaults.config.storageConnectionString, defaults.config.storageContainer, defaults.config.fileUploadSasTtlSeconds, defaults.config.fileNotifications],
    [undefined, "fileupload", 3600, true],
  );

  const bad = loadConfig({
    flags: { storageConnectionString: `AccountName=acct;SharedAccessSignature=x`, storageContainer: "Bad_Name" },
    env: { MALACHITE_FILE_UPLOAD_SAS_TTL_SECONDS: "30", MALACHITE_FILE_NOTIFICATIONS: "maybe" },
  });
  assert.equal(bad.ok, false);
  if (!bad.ok) {
    assert.equal(bad.problems.length, 4);
    assert.match(bad.problems.join("\n"), /flag --storage-connection-string: is not a usable Azure Storage connection string: AccountKey is missing/);
    assert.match(bad.problems.join("\n"), /flag --storage-container: "Bad_Name" is not a blob container name/);
    assert.match(bad.problems.join("\n"), /env MALACHITE_FILE_UPLOAD_SAS_TTL_SECONDS: "30" is not a SAS lifetime/);
    assert.match(bad.problems.join("\n"), /env MALACHITE_FILE_NOTIFICATIONS: "maybe" is not true or false/);
  }
});
