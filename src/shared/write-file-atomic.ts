import { open, rename, rm } from "node:fs/promises";
import { randomBytes } from "node:crypto";

/**
 * Writes a file so that readers (and the next start after a crash) see either the old content or the new, never
 * a torn one: write a temporary file beside it, flush it, then rename over the target. `mode` applies from the
 * first byte, so a private key is never readable by others, even briefly.
 */
export async function writeFileAtomic(path: string, data: string, mode = 0o644): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const handle = await open(temp, "wx", mode);
  try {
    await handle.writeFile(data, "utf8");
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
