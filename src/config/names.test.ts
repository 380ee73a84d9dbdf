import { test } from "node:test";
import assert from "node:assert/strict";
import { hubNameFromHostName, isValidBindAddress, isValidHostName, isValidHubName } from "./names.js";

test("hub names follow IoT Hub's rule: 3-50 letters, digits, hyphens, no hyphen at either end", () => {
  for (const ok of ["abc", "my-hub", "Hub01", "a".repeat(50), "1hub"]) assert.equal(isValidHubName(ok), true, ok);
  for (const bad of ["ab", "a".repeat(51), "-hub", "hub-", "my_hub", "my.hub", "", "hüb"]) {
    assert.equal(isValidHubName(bad), false, bad);
  }
});

test("host names are DNS names or IPv4 addresses", () => {
  for (const ok of ["localhost", "myhub.example.com", "127.0.0.1", "127.0.0.42", "a-b.c", "x"]) {
    assert.equal(isValidHostName(ok), true, ok);
  }
  for (const bad of ["", "-a.com", "a-.com", "a..b", "a b", "::1", "https://x", "x:443", "300.1.1.1", `${"a".repeat(64)}.com`]) {
    assert.equal(isValidHostName(bad), false, bad);
  }
});

test("bind addresses are IP literals", () => {
  for (const ok of ["127.0.0.1", "0.0.0.0", "::", "::1"]) assert.equal(isValidBindAddress(ok), true, ok);
  for (const bad of ["localhost", "", "1.2.3"]) assert.equal(isValidBindAddress(bad), false, bad);
});

test("the hub name defaults to the first label of the host name", () => {
  assert.equal(hubNameFromHostName("localhost"), "localhost");
  assert.equal(hubNameFromHostName("myhub.example.com"), "myhub");
  assert.equal(hubNameFromHostName("127.0.0.1"), "malachite");
  // A first label IoT Hub would refuse as a hub name falls back too.
  assert.equal(hubNameFromHostName("ab.example.com"), "malachite");
});
