import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

// DESIGN.md, "Dependency rules": the core imports no I/O library, gateways reach the core only through
// hub/index.ts, and stores see only the core's port types. This test reads every import in src/ and enforces that.
const src = resolve(new URL("../../src", import.meta.url).pathname);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith(".ts") && !name.endsWith(".test.ts") ? [path] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/^\s*(?:import|export)[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1]!);
}

/** Where an import points: "src/…" for our files, the bare name for packages and built-ins. */
function target(file: string, spec: string): string {
  return spec.startsWith(".") ? relative(resolve(src, ".."), resolve(dirname(file), spec)) : spec;
}

const IO = /^(node:(net|http|https|tls|fs|fs\/promises|child_process|dgram|http2)|fastify|ws|rhea|mqtt-packet|better-sqlite3|pg|nats|pino|@azure\/)/;

test("src/hub imports no gateway, store, config, observability or I/O library", () => {
  const problems: string[] = [];
  for (const file of sources(join(src, "hub"))) {
    for (const spec of imports(file)) {
      const to = target(file, spec);
      if (IO.test(to) || /^src\/(gateways|storage|config|observability|cli|tls|app|main)/.test(to)) problems.push(`${relative(src, file)} -> ${spec}`);
    }
  }
  assert.deepEqual(problems, []);
});

test("gateways reach the core only through hub/index.ts and never a store or another gateway", () => {
  const problems: string[] = [];
  for (const file of sources(join(src, "gateways"))) {
    const own = relative(src, file).split("/")[1];
    for (const spec of imports(file)) {
      const to = target(file, spec);
      if (to.startsWith("src/hub/") && to !== "src/hub/index.js") problems.push(`${relative(src, file)} -> ${spec}`);
      if (to.startsWith("src/storage/")) problems.push(`${relative(src, file)} -> ${spec}`);
      if (to.startsWith("src/gateways/") && to.split("/")[2] !== own) problems.push(`${relative(src, file)} -> ${spec}`);
    }
  }
  assert.deepEqual(problems, []);
});

test("stores import only the core's port types", () => {
  const problems: string[] = [];
  for (const file of sources(join(src, "storage"))) {
    for (const spec of imports(file)) {
      const to = target(file, spec);
      if (to.startsWith("src/") && !to.startsWith("src/storage/") && !to.startsWith("src/hub/ports/") && !to.startsWith("src/shared/")) {
        problems.push(`${relative(src, file)} -> ${spec}`);
      }
    }
  }
  assert.deepEqual(problems, []);
});

test("src/ loads only built-ins and the packages package.json lists as dependencies (devDependencies are not installed with it)", () => {
  const manifest = JSON.parse(readFileSync(resolve(src, "../package.json"), "utf8")) as { dependencies: Record<string, string> };
  const problems: string[] = [];
  for (const file of sources(src)) {
    const text = readFileSync(file, "utf8");
    const dynamic = [...text.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1]!);
    for (const spec of [...imports(file), ...dynamic]) {
      if (spec.startsWith(".") || spec.startsWith("node:")) continue;
      const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!;
      if (!(name in manifest.dependencies)) problems.push(`${relative(src, file)} -> ${spec}`);
    }
  }
  assert.deepEqual(problems, []);
});
