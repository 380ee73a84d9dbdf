/**
 * `node --import tsx --import ./record-imports.ts …` with RECORD_IMPORTS_TO=FILE: every module the process resolves
 * through the ESM loader (imports and dynamic imports, of packages and of our own files) is appended to FILE as a
 * URL, one per line, so a test can tell what a command loaded.
 */
import { register } from "node:module";

const file = process.env["RECORD_IMPORTS_TO"];
if (file === undefined) throw new Error("record-imports: set RECORD_IMPORTS_TO to the file to append to");

// Loader hooks run on a thread of their own in Node 20, so they write the file themselves.
const hooks = `
import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(${JSON.stringify(file)}, result.url + "\\n");
  return result;
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
