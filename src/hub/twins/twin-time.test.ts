import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { asTwinTimestamp, twinTimestamp } from "./twin-time.js";

describe("twinTimestamp()", () => {
  test("writes 7 fractional digits and a Z, as IoT Hub does", () => {
    assert.equal(twinTimestamp(Date.UTC(2024, 0, 1, 0, 0, 0, 123)), "2024-01-01T00:00:00.1230000Z");
    assert.equal(twinTimestamp(Date.UTC(2019, 2, 7, 20, 7, 53, 0)), "2019-03-07T20:07:53.0000000Z");
  });

  test("keeps sub-millisecond ticks when the clock supplies them", () => {
    // Binary fractions only: a double holding ~1.7e12 ms resolves about 0.0002 ms, coarser than a tick.
    assert.equal(twinTimestamp(Date.UTC(2024, 0, 1, 0, 0, 0, 123) + 0.5), "2024-01-01T00:00:00.1235000Z");
    assert.equal(twinTimestamp(Date.UTC(2024, 0, 1, 0, 0, 0, 123) + 0.25), "2024-01-01T00:00:00.1232500Z");
  });
});

describe("asTwinTimestamp()", () => {
  test("adds the Z twins show to the registry's zone-less 'never'", () => {
    assert.equal(asTwinTimestamp("0001-01-01T00:00:00"), "0001-01-01T00:00:00Z");
  });

  test("leaves timestamps that already carry a zone alone", () => {
    assert.equal(asTwinTimestamp("2023-08-24T12:39:49.5076305Z"), "2023-08-24T12:39:49.5076305Z");
    assert.equal(asTwinTimestamp("2023-08-24T12:39:49+02:00"), "2023-08-24T12:39:49+02:00");
  });
});
