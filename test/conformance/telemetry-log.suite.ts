import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { TelemetryAppend, TelemetryLog, TelemetryRecord } from "../../src/hub/ports/telemetry-log.js";

export type OpenTelemetryLog = () => Promise<TelemetryLog> | TelemetryLog;
/** Opens the same underlying storage as `closed` (already closed), for logs that persist. */
export type ReopenTelemetryLog = (closed: TelemetryLog) => Promise<TelemetryLog> | TelemetryLog;

export interface TelemetryLogConformanceOptions {
  /**
   * Makes every commit of `log` fail (as a full disk would) until the returned function is called, for adapters whose
   * commits can fail after append() has accepted the records. Without it the batch-failure tests are not registered.
   */
  breakCommits?: (log: TelemetryLog) => () => void;
}

/** A fixed epoch so times are readable in failures: T + 5 is "5 ms after T". */
const T = 1_700_000_000_000;

/**
 * Registers node:test tests that every TelemetryLog adapter must pass. `open` returns a new, empty log on each call.
 * Pass `reopen` for persistent logs to also check that acknowledged appends survive a close and reopen.
 */
export function telemetryLogConformance(
  name: string,
  open: OpenTelemetryLog,
  reopen?: ReopenTelemetryLog,
  options: TelemetryLogConformanceOptions = {},
): void {
  /** Runs `body` against a fresh log and always closes it, even when an assertion fails. */
  async function withLog(body: (log: TelemetryLog) => Promise<void>): Promise<void> {
    const log = await open();
    try {
      await body(log);
    } finally {
      await log.close();
    }
  }

  describe(`TelemetryLog conformance: ${name}`, () => {
    describe("append", () => {
      test("sequence numbers start at 0 and count up by 1, per partition independently", () =>
        withLog(async (log) => {
          assert.deepEqual(seqs(await log.append([msg(0), msg(0)])), [0, 1]);
          assert.deepEqual(seqs(await log.append([msg(3)])), [0]);
          assert.deepEqual(seqs(await log.append([msg(0)])), [2]);
          // One call may span partitions; each record takes the next number of its own partition.
          const mixed = await log.append([msg(3), msg(1), msg(0), msg(3), msg(1)]);
          assert.deepEqual(mixed.map((r) => [r.partition, r.sequenceNumber]), [[3, 1], [1, 0], [0, 3], [3, 2], [1, 1]]);
          assert.deepEqual(seqs(await log.read({ partition: 0, fromSequenceNumber: 0, limit: 100 })), [0, 1, 2, 3]);
          assert.deepEqual(seqs(await log.read({ partition: 1, fromSequenceNumber: 0, limit: 100 })), [0, 1]);
          assert.deepEqual(seqs(await log.read({ partition: 3, fromSequenceNumber: 0, limit: 100 })), [0, 1, 2]);
        }));

      test("the returned records are the appended ones plus their sequence numbers, and read back equal", () =>
        withLog(async (log) => {
          const sent = [msg(2, { at: T + 7, body: "hello", properties: { a: "1" }, system: { "message-id": "m1" } })];
          const appended = await log.append(sent);
          assert.deepEqual(appended, [{ ...sent[0]!, sequenceNumber: 0 }]);
          assert.deepEqual(await log.read({ partition: 2, fromSequenceNumber: 0, limit: 10 }), appended);
        }));

      test("an empty append resolves to [] and takes no sequence number", () =>
        withLog(async (log) => {
          assert.deepEqual(await log.append([]), []);
          assert.deepEqual(await log.partitionInfo(0), empty(0));
          assert.deepEqual(seqs(await log.append([msg(0)])), [0]);
        }));

      test("concurrent appends all resolve, with unique consecutive numbers in call order", () =>
        withLog(async (log) => {
          // Many calls in one turn, as many devices' messages arrive together: 1–3 records each, over 3 partitions.
          const calls = Array.from({ length: 300 }, (_, c) =>
            Array.from({ length: (c % 3) + 1 }, (_, r) => msg((c + r) % 3, { body: `${c}/${r}` })),
          );
          const results = await Promise.all(calls.map((records) => log.append(records)));
          const byPartition = new Map<number, TelemetryRecord[]>();
          results.forEach((appended, c) => {
            assert.deepEqual(appended.map((r) => r.body.toString()), calls[c]!.map((r) => r.body.toString()));
            for (const record of appended) {
              const list = byPartition.get(record.partition) ?? [];
              list.push(record);
              byPartition.set(record.partition, list);
            }
          });
          for (const [partition, list] of byPartition) {
            // In call order, the numbers of a partition are 0, 1, 2… with no gap and no repeat.
            assert.deepEqual(seqs(list), list.map((_, i) => i), `partition ${partition}`);
            const read = await log.read({ partition, fromSequenceNumber: 0, limit: 10_000 });
            assert.deepEqual(read, list);
          }
          assert.equal([...byPartition.values()].reduce((n, list) => n + list.length, 0), 600);
        }));

      test("appends made one after another in later turns continue the numbering", () =>
        withLog(async (log) => {
          await Promise.all([log.append([msg(0)]), log.append([msg(0)])]);
          await new Promise((resolve) => setImmediate(resolve));
          const [a, b] = await Promise.all([log.append([msg(0)]), log.append([msg(0), msg(0)])]);
          assert.deepEqual([...seqs(a!), ...seqs(b!)], [2, 3, 4]);
        }));
    });

    describe("round trip", () => {
      test("binary bodies come back byte for byte: every byte value, 0x00 runs, empty, large", () =>
        withLog(async (log) => {
          const bodies = [
            Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
            Buffer.alloc(64),
            Buffer.from([0, 0, 1, 0]),
            Buffer.alloc(0),
            Buffer.from("not valid utf-8: \xff\xfe", "latin1"),
            Buffer.alloc(300_000, 0xab),
          ];
          await log.append(bodies.map((body) => ({ ...msg(0), body })));
          const read = await log.read({ partition: 0, fromSequenceNumber: 0, limit: 100 });
          assert.equal(read.length, bodies.length);
          read.forEach((record, i) => {
            assert.ok(Buffer.isBuffer(record.body), `body ${i} is a Buffer`);
            assert.ok(record.body.equals(bodies[i]!), `body ${i} round-trips`);
          });
        }));

      test("properties and system properties round-trip exactly: unicode, odd keys, empty values, key order", () =>
        withLog(async (log) => {
          const properties = {
            "temp°C": "21.5",
            emoji: "😀 \u{1F600}",
            cjk: "温度",
            rtl: "שלום",
            empty: "",
            "": "empty key",
            quotes: 'a "b" \\ c\n\t\u0000',
            "$.ct": "not a system property here",
            z: "key order is kept",
            a: "even when not sorted",
            // Computed, so the literal makes an own property rather than setting the prototype.
            ["__proto__"]: "an ordinary key",
            "astral 𝄞": "𝄞",
            lone: "\uD800 a lone surrogate",
          };
          const systemProperties = {
            "message-id": "id-ü",
            "correlation-id": "c",
            "content-type": "application/json; charset=utf-8",
            "iothub-connection-device-id": "dév-✓",
            "iothub-enqueuedtime": "2023-11-14T22:13:20.000Z",
          };
          const [appended] = await log.append([{ ...msg(1), properties, systemProperties }]);
          const [read] = await log.read({ partition: 1, fromSequenceNumber: 0, limit: 1 });
          for (const record of [appended!, read!]) {
            assert.deepEqual(record.properties, properties);
            assert.deepEqual(Object.keys(record.properties), Object.keys(properties));
            assert.ok(Object.hasOwn(record.properties, "__proto__"));
            assert.deepEqual(record.systemProperties, systemProperties);
          }
        }));

      test("empty property maps round-trip as empty objects", () =>
        withLog(async (log) => {
          await log.append([{ ...msg(0), properties: {}, systemProperties: {} }]);
          const [read] = await log.read({ partition: 0, fromSequenceNumber: 0, limit: 1 });
          assert.deepEqual(read!.properties, {});
          assert.deepEqual(read!.systemProperties, {});
        }));

      test("enqueued times round-trip, whatever their order", () =>
        withLog(async (log) => {
          const times = [T + 5, T, T + 5, 0, Number.MAX_SAFE_INTEGER];
          await log.append(times.map((at) => msg(0, { at })));
          const read = await log.read({ partition: 0, fromSequenceNumber: 0, limit: 10 });
          assert.deepEqual(read.map((r) => r.enqueuedTime), times);
        }));
    });

    describe("isolation", () => {
      test("changing a body or property map after append() does not change what was appended", () =>
        withLog(async (log) => {
          const record = msg(0, { body: "original", properties: { k: "v" }, system: { s: "v" } });
          const pending = log.append([record]);
          // The caller reuses its buffer and objects before the append has resolved.
          record.body.write("CHANGED!");
          (record.properties as Record<string, string>)["k"] = "changed";
          (record.systemProperties as Record<string, string>)["added"] = "x";
          await pending;
          const [read] = await log.read({ partition: 0, fromSequenceNumber: 0, limit: 1 });
          assert.equal(read!.body.toString(), "original");
          assert.deepEqual(read!.properties, { k: "v" });
          assert.deepEqual(read!.systemProperties, { s: "v" });
        }));

      test("changing a read record does not change the log", () =>
        withLog(async (log) => {
          await log.append([msg(0, { body: "abc", properties: { k: "v" } })]);
          const [first] = await log.read({ partition: 0, fromSequenceNumber: 0, limit: 1 });
          first!.body.fill(0);
          (first!.properties as Record<string, string>)["k"] = "changed";
          const [second] = await log.read({ partition: 0, fromSequenceNumber: 0, limit: 1 });
          assert.equal(second!.body.toString(), "abc");
          assert.deepEqual(second!.properties, { k: "v" });
        }));
    });

    describe("read", () => {
      test("returns one partition's records in sequence order from fromSequenceNumber, at most limit", () =>
        withLog(async (log) => {
          await log.append(Array.from({ length: 10 }, (_, i) => msg(i % 2, { body: `m${i}` })));
          const read = (from: number, limit: number, partition = 0) =>
            log.read({ partition, fromSequenceNumber: from, limit }).then(seqs);
          assert.deepEqual(await read(0, 100), [0, 1, 2, 3, 4]);
          assert.deepEqual(await read(2, 100), [2, 3, 4]);
          assert.deepEqual(await read(1, 2), [1, 2]);
          assert.deepEqual(await read(4, 1), [4]);
          assert.deepEqual(await read(5, 10), []);
          assert.deepEqual(await read(1_000, 10), []);
          assert.deepEqual(await read(0, 0), []);
          assert.deepEqual(await read(0, -1), []);
          assert.deepEqual(await read(-5, 2), [0, 1]);
          const odd = await log.read({ partition: 1, fromSequenceNumber: 3, limit: 10 });
          assert.deepEqual(odd.map((r) => [r.partition, r.sequenceNumber, r.body.toString()]), [
            [1, 3, "m7"],
            [1, 4, "m9"],
          ]);
        }));

      test("an unknown partition reads as empty", () =>
        withLog(async (log) => {
          await log.append([msg(0)]);
          assert.deepEqual(await log.read({ partition: 1, fromSequenceNumber: 0, limit: 10 }), []);
          assert.deepEqual(await log.read({ partition: 1_000_000, fromSequenceNumber: 0, limit: 10 }), []);
        }));

      test("paging with the last sequence number + 1 reads everything once", () =>
        withLog(async (log) => {
          for (let i = 0; i < 5; i++) await log.append(Array.from({ length: 23 }, () => msg(0)));
          const seen: number[] = [];
          for (let from = 0; ; ) {
            const page = await log.read({ partition: 0, fromSequenceNumber: from, limit: 10 });
            if (page.length === 0) break;
            seen.push(...seqs(page));
            from = page.at(-1)!.sequenceNumber + 1;
          }
          assert.deepEqual(seen, Array.from({ length: 115 }, (_, i) => i));
        }));
    });

    describe("partitionInfo", () => {
      test("a partition never appended to: last -1, first 0, no enqueued time", () =>
        withLog(async (log) => {
          assert.deepEqual(await log.partitionInfo(0), empty(0));
          await log.append([msg(1)]);
          assert.deepEqual(await log.partitionInfo(0), empty(0));
          assert.deepEqual(await log.partitionInfo(7), empty(7));
        }));

      test("reports the first and last sequence numbers and the last record's enqueued time", () =>
        withLog(async (log) => {
          await log.append([msg(0, { at: T + 1 }), msg(0, { at: T + 3 }), msg(2, { at: T + 9 })]);
          // lastEnqueuedTime is that of the last record, even when an earlier one was stamped later.
          await log.append([msg(0, { at: T + 2 })]);
          assert.deepEqual(await log.partitionInfo(0), info(0, 0, 2, T + 2));
          assert.deepEqual(await log.partitionInfo(2), info(2, 0, 0, T + 9));
        }));
    });

    describe("trim", () => {
      test("drops records enqueued before the cutoff in every partition and returns how many", () =>
        withLog(async (log) => {
          await log.append([0, 1, 2, 3, 4].map((i) => msg(0, { at: T + i })));
          await log.append([0, 2, 4].map((i) => msg(1, { at: T + i })));
          await log.append([msg(2, { at: T + 10 })]);
          // Strictly before: the records enqueued exactly at T + 2 stay.
          assert.equal(await log.trim(T + 2), 3);
          assert.deepEqual(seqs(await log.read({ partition: 0, fromSequenceNumber: 0, limit: 10 })), [2, 3, 4]);
          assert.deepEqual(seqs(await log.read({ partition: 1, fromSequenceNumber: 0, limit: 10 })), [1, 2]);
          assert.deepEqual(await log.partitionInfo(0), info(0, 2, 4, T + 4));
          assert.deepEqual(await log.partitionInfo(1), info(1, 1, 2, T + 4));
          assert.deepEqual(await log.partitionInfo(2), info(2, 0, 0, T + 10));
          // Nothing more is that old.
          assert.equal(await log.trim(T + 2), 0);
        }));

      test("trimming nothing, or an empty log, returns 0", () =>
        withLog(async (log) => {
          assert.equal(await log.trim(T), 0);
          await log.append([msg(0, { at: T })]);
          assert.equal(await log.trim(T), 0);
          assert.equal(await log.trim(-Infinity), 0);
          assert.deepEqual(seqs(await log.read({ partition: 0, fromSequenceNumber: 0, limit: 10 })), [0]);
        }));

      test("a partition trimmed empty keeps its numbering: first = last + 1, and appends continue", () =>
        withLog(async (log) => {
          await log.append([msg(0, { at: T }), msg(0, { at: T + 1 }), msg(0, { at: T + 2 })]);
          assert.equal(await log.trim(Infinity), 3);
          assert.deepEqual(await log.partitionInfo(0), info(0, 3, 2, T + 2));
          assert.deepEqual(await log.read({ partition: 0, fromSequenceNumber: 0, limit: 10 }), []);
          assert.deepEqual(seqs(await log.append([msg(0, { at: T + 3 })])), [3]);
          assert.deepEqual(await log.partitionInfo(0), info(0, 3, 3, T + 3));
        }));

      test("reading from before the first retained record starts at the first", () =>
        withLog(async (log) => {
          await log.append([0, 1, 2, 3].map((i) => msg(0, { at: T + i })));
          await log.trim(T + 2);
          assert.deepEqual(seqs(await log.read({ partition: 0, fromSequenceNumber: 0, limit: 1 })), [2]);
        }));

      test("retained records stay contiguous when enqueued times go backwards", () =>
        withLog(async (log) => {
          // A clock step: record 2 is stamped before record 1.
          await log.append([msg(0, { at: T }), msg(0, { at: T + 10 }), msg(0, { at: T + 1 }), msg(0, { at: T + 20 })]);
          // Record 2 is older than the cutoff but comes after record 1, which is kept: no hole is cut.
          assert.equal(await log.trim(T + 5), 1);
          assert.deepEqual(seqs(await log.read({ partition: 0, fromSequenceNumber: 0, limit: 10 })), [1, 2, 3]);
          assert.equal(await log.trim(T + 15), 2);
          assert.deepEqual(seqs(await log.read({ partition: 0, fromSequenceNumber: 0, limit: 10 })), [3]);
        }));
    });

    describe("validation", () => {
      const invalid: [string, () => unknown][] = [
        ["a string body", () => ({ ...msg(0), body: "text" })],
        ["a Uint8Array body", () => ({ ...msg(0), body: new Uint8Array(2) })],
        ["a missing body", () => ({ ...msg(0), body: undefined })],
        ["a negative partition", () => msg(-1)],
        ["a fractional partition", () => msg(1.5)],
        ["a string partition", () => ({ ...msg(0), partition: "0" })],
        ["a fractional enqueued time", () => msg(0, { at: T + 0.5 })],
        ["a NaN enqueued time", () => msg(0, { at: NaN })],
        ["a number property value", () => ({ ...msg(0), properties: { n: 1 } })],
        ["a nested system property value", () => ({ ...msg(0), systemProperties: { s: { x: "y" } } })],
        ["null properties", () => ({ ...msg(0), properties: null })],
        ["an array of properties", () => ({ ...msg(0), properties: ["a"] })],
        ["a null record", () => null],
      ];
      for (const [what, make] of invalid) {
        test(`a record with ${what} rejects its call, and nothing of the call is appended`, () =>
          withLog(async (log) => {
            await assert.rejects(log.append([msg(0), make() as TelemetryAppend, msg(1)]), /telemetry/);
            assert.deepEqual(await log.partitionInfo(0), empty(0));
            assert.deepEqual(await log.partitionInfo(1), empty(1));
            assert.deepEqual(seqs(await log.append([msg(0)])), [0]);
          }));
      }

      test("an invalid call fails alone: calls made alongside it succeed without a gap in numbering", () =>
        withLog(async (log) => {
          const [a, bad, b] = await Promise.allSettled([
            log.append([msg(0)]),
            log.append([msg(0), { ...msg(0), body: "not a buffer" } as unknown as TelemetryAppend]),
            log.append([msg(0)]),
          ]);
          assert.equal(bad!.status, "rejected");
          assert.deepEqual(a!.status === "fulfilled" && seqs(a.value), [0]);
          assert.deepEqual(b!.status === "fulfilled" && seqs(b.value), [1]);
        }));

      test("a non-array append and malformed reads reject", () =>
        withLog(async (log) => {
          await assert.rejects(log.append(msg(0) as unknown as TelemetryAppend[]));
          await assert.rejects(log.read({ partition: -1, fromSequenceNumber: 0, limit: 1 }));
          await assert.rejects(log.read({ partition: 0, fromSequenceNumber: 0.5, limit: 1 }));
          await assert.rejects(log.read({ partition: 0, fromSequenceNumber: 0, limit: NaN }));
          await assert.rejects(log.partitionInfo(-1));
          await assert.rejects(log.partitionInfo(0.5));
          await assert.rejects(log.trim(NaN));
        }));
    });

    // Only adapters that can be made to fail a commit (a file-backed SQLite log) get this test at all.
    const { breakCommits } = options;
    if (breakCommits !== undefined) describe("batch failure", () => {
      test(
        "a failed commit rejects every caller of its batch, keeps nothing, and consumes no sequence number",
        () =>
          withLog(async (log) => {
            await log.append([msg(0), msg(1)]);
            const restore = breakCommits!(log);
            let results: PromiseSettledResult<TelemetryRecord[]>[];
            try {
              results = await Promise.allSettled([
                log.append([msg(0)]),
                log.append([msg(1), msg(0)]),
                log.append([msg(2)]),
              ]);
            } finally {
              restore();
            }
            assert.deepEqual(results.map((r) => r.status), ["rejected", "rejected", "rejected"]);
            const errors = results.map((r) => (r as PromiseRejectedResult).reason);
            assert.ok(errors[0] instanceof Error);
            // One batch, one error.
            assert.equal(errors[1], errors[0]);
            assert.equal(errors[2], errors[0]);
            assert.deepEqual(await log.partitionInfo(0), info(0, 0, 0, T));
            assert.deepEqual(await log.partitionInfo(1), info(1, 0, 0, T));
            assert.deepEqual(await log.partitionInfo(2), empty(2));
            // The log keeps working, numbering on from where the last successful commit left it.
            assert.deepEqual(seqs(await log.append([msg(0), msg(2)])), [1, 0]);
          }),
      );
    });

    describe("close", () => {
      test("appends still pending when close() is called are committed and resolve", async () => {
        const log = await open();
        const pending = [log.append([msg(0)]), log.append([msg(0), msg(1)])];
        await log.close();
        const [a, b] = await Promise.all(pending);
        assert.deepEqual([...seqs(a!), ...seqs(b!)], [0, 1, 0]);
      });

      test("close resolves, later calls reject, and closing twice is harmless", async () => {
        const log = await open();
        await log.append([msg(0)]);
        await log.close();
        await assert.rejects(log.append([msg(0)]), /closed/);
        await assert.rejects(log.read({ partition: 0, fromSequenceNumber: 0, limit: 1 }));
        await assert.rejects(log.partitionInfo(0));
        await assert.rejects(log.trim(T));
        await log.close();
      });
    });

    if (reopen !== undefined) {
      describe("durability", () => {
        test("acknowledged appends survive close and reopen, and numbering continues per partition", async () => {
          const first = await open();
          const appends = Array.from({ length: 50 }, (_, i) => msg(i % 3, { at: T + i, body: `b${i}` }));
          await Promise.all(appends.map((record) => first.append([record])));
          const before = await first.read({ partition: 1, fromSequenceNumber: 0, limit: 100 });
          await first.close();

          const second = await reopen(first);
          try {
            assert.deepEqual(await second.read({ partition: 1, fromSequenceNumber: 0, limit: 100 }), before);
            assert.deepEqual(await second.partitionInfo(0), info(0, 0, 16, T + 48));
            assert.deepEqual(await second.partitionInfo(1), info(1, 0, 16, T + 49));
            assert.deepEqual(await second.partitionInfo(2), info(2, 0, 15, T + 47));
            assert.deepEqual(await second.partitionInfo(3), empty(3));
            const next = await second.append([msg(0), msg(1), msg(2), msg(3)]);
            assert.deepEqual(next.map((r) => r.sequenceNumber), [17, 17, 16, 0]);
          } finally {
            await second.close();
          }
        });

        test("a partition trimmed empty does not restart its numbering after reopen", async () => {
          const first = await open();
          await first.append([msg(0, { at: T }), msg(0, { at: T + 1 }), msg(5, { at: T + 2 })]);
          assert.equal(await first.trim(Infinity), 3);
          await first.close();

          const second = await reopen(first);
          try {
            assert.deepEqual(await second.partitionInfo(0), info(0, 2, 1, T + 1));
            assert.deepEqual(await second.partitionInfo(5), info(5, 1, 0, T + 2));
            assert.deepEqual(seqs(await second.append([msg(0), msg(5)])), [2, 1]);
          } finally {
            await second.close();
          }
        });

        test("appends pending at close() are durable", async () => {
          const first = await open();
          const pending = first.append([msg(0, { body: "last words" })]);
          await first.close();
          await pending;
          const second = await reopen(first);
          try {
            const [read] = await second.read({ partition: 0, fromSequenceNumber: 0, limit: 1 });
            assert.equal(read?.body.toString(), "last words");
          } finally {
            await second.close();
          }
        });
      });
    }
  });
}

interface MessageOptions {
  at?: number;
  body?: string;
  properties?: Record<string, string>;
  system?: Record<string, string>;
}

/** A record for `partition` enqueued at T, with a fresh body and fresh property maps. */
function msg(partition: number, options: MessageOptions = {}): TelemetryAppend {
  return {
    partition,
    enqueuedTime: options.at ?? T,
    body: Buffer.from(options.body ?? "{\"temperature\":21.5}"),
    properties: { ...(options.properties ?? { alert: "false" }) },
    systemProperties: { ...(options.system ?? { "iothub-connection-device-id": "d1" }) },
  };
}

function seqs(records: readonly TelemetryRecord[]): number[] {
  return records.map((record) => record.sequenceNumber);
}

function empty(partition: number) {
  return { partition, lastSequenceNumber: -1, firstSequenceNumber: 0, lastEnqueuedTime: undefined };
}

function info(partition: number, first: number, last: number, lastEnqueuedTime: number) {
  return { partition, lastSequenceNumber: last, firstSequenceNumber: first, lastEnqueuedTime };
}
