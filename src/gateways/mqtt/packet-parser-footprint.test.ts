import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { createPacketParser } from "./packet-parser.js";

// Its own file, so that nothing else in this process calls mqtt-packet's generate() (node --test runs each file apart).
test("loading and using the parser leaves mqtt-packet's 65,536-buffer packet-id cache unbuilt", () => {
  const parser = createPacketParser({ protocolVersion: 4 });
  // The light parser, not the fallback: its input is a plain BufferList, not a whole stream per connection.
  assert.equal(typeof (parser as unknown as { _list: { pipe?: unknown } })._list.pipe, "undefined", "createPacketParser fell back to mqtt-packet's own parser");
  const seen: string[] = [];
  parser.on("packet", (p: { cmd: string }) => seen.push(p.cmd));
  parser.parse(Buffer.from([0xc0, 0x00]));
  assert.deepEqual(seen, ["pingreq"]);
  const numbers = createRequire(createRequire(import.meta.url).resolve("mqtt-packet"))("./numbers.js") as { cache: Record<number, Buffer> };
  assert.equal(Object.keys(numbers.cache).length, 0);
});
