import { appendFile, mkdir, readdir, readFile, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { ResourceLogQuery } from "./log-query.js";
import type { ResourceLogRecord } from "./render-record.js";

export interface ResourceLogWriterOptions {
  /** Directory of the JSON Lines files; undefined keeps records in memory only (memory-storage hubs). */
  readonly dir?: string | undefined;
  /** A file is closed and a new one started once the next batch would take it past this size (default 16 MiB). */
  readonly maxFileBytes?: number;
  /** A file is also closed once it is this old (default 1 day), so age-based deletion can reach its records. */
  readonly rotateAfterMs?: number;
  /** Closed files older than this (by last write) are deleted (default 7 days). */
  readonly maxAgeMs?: number;
  /** At most this many files are kept, the current one included; the oldest go first (default 50). */
  readonly maxFiles?: number;
  /** Records kept in memory for fast queries (default 10,000). */
  readonly ringSize?: number;
  /** How long appended records wait to be written with later ones (default 100 ms). */
  readonly flushDelayMs?: number;
  /** Wall time, for file ages. */
  readonly now?: () => number;
  /** Where write failures go: they are reported, never thrown at the operation that was logged. */
  readonly onError: (error: unknown, message: string) => void;
}

const FILE = /^resource-logs-(\d+)\.jsonl$/;
// A batch this large is written at once rather than waiting for the delay.
const EAGER_FLUSH_BYTES = 1024 * 1024;

function fileName(n: number): string {
  return `resource-logs-${String(n).padStart(6, "0")}.jsonl`;
}

/** A record and what queries match it on; its deviceId is read from `properties` only when a query asks. */
class Entry {
  readonly record: ResourceLogRecord;
  readonly timeMs: number;
  #deviceId: string | undefined | null = null;

  constructor(record: ResourceLogRecord) {
    this.record = record;
    this.timeMs = Date.parse(record.time);
  }

  get deviceId(): string | undefined {
    if (this.#deviceId === null) this.#deviceId = deviceIdOf(this.record);
    return this.#deviceId;
  }
}

function deviceIdOf(record: ResourceLogRecord): string | undefined {
  try {
    const value = (JSON.parse(record.properties) as Record<string, unknown>)["deviceId"];
    return typeof value === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}

function entryOf(record: ResourceLogRecord): Entry {
  return new Entry(record);
}

/** `since` against whole-second record times: a record in the same second as `since` is included. */
function matches(entry: Entry, query: ResourceLogQuery): boolean {
  if (query.category !== undefined && entry.record.category !== query.category) return false;
  if (query.deviceId !== undefined && entry.deviceId !== query.deviceId) return false;
  if (query.since !== undefined && entry.timeMs < Math.floor(query.since / 1000) * 1000) return false;
  return true;
}

/** A fixed-size ring of the newest entries. */
class Ring {
  readonly #items: (Entry | undefined)[];
  #next = 0;
  #size = 0;

  constructor(capacity: number) {
    this.#items = new Array<Entry | undefined>(Math.max(1, capacity));
  }

  /** Adds an entry; true when an older one had to go. */
  push(entry: Entry): boolean {
    const evicted = this.#size === this.#items.length;
    this.#items[this.#next] = entry;
    this.#next = (this.#next + 1) % this.#items.length;
    if (!evicted) this.#size++;
    return evicted;
  }

  /** Newest first. */
  *newest(): Generator<Entry> {
    for (let i = 1; i <= this.#size; i++) yield this.#items[(this.#next - i + this.#items.length) % this.#items.length]!;
  }

  oldest(): Entry | undefined {
    return this.#size === 0 ? undefined : this.#items[(this.#next - this.#size + this.#items.length) % this.#items.length];
  }
}

/**
 * Keeps resource-log records the way a storage diagnostic setting does (monitoring.md §3.2: JSON Lines, one record
 * per line, no wrapper), under `<dir>/resource-logs-NNNNNN.jsonl`, plus the newest records in memory for fast
 * queries. Appends never wait for the disk: records are written in batches in the background, and a failed write is
 * reported through `onError` and dropped — Azure Monitor does not guarantee delivery of resource logs either (§1.3).
 */
export class ResourceLogWriter {
  readonly #dir: string | undefined;
  readonly #maxFileBytes: number;
  readonly #rotateAfterMs: number;
  readonly #maxAgeMs: number;
  readonly #maxFiles: number;
  readonly #flushDelayMs: number;
  readonly #now: () => number;
  readonly #onError: (error: unknown, message: string) => void;
  readonly #ring: Ring;
  /** Some records exist only on disk: the ring dropped some, or files were there from an earlier run. */
  #ringIncomplete = false;
  #pending: string[] = [];
  #pendingBytes = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;
  #fileNumber = 1;
  #fileBytes = 0;
  #fileStarted = 0;

  private constructor(options: ResourceLogWriterOptions) {
    this.#dir = options.dir;
    this.#maxFileBytes = options.maxFileBytes ?? 16 * 1024 * 1024;
    this.#rotateAfterMs = options.rotateAfterMs ?? 86_400_000;
    this.#maxAgeMs = options.maxAgeMs ?? 7 * 86_400_000;
    this.#maxFiles = Math.max(1, options.maxFiles ?? 50);
    this.#flushDelayMs = options.flushDelayMs ?? 100;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError;
    this.#ring = new Ring(options.ringSize ?? 10_000);
  }

  /** Opens the writer: continues the newest file of an earlier run if it still has room, after deleting expired ones. */
  static async open(options: ResourceLogWriterOptions): Promise<ResourceLogWriter> {
    const writer = new ResourceLogWriter(options);
    await writer.#start();
    return writer;
  }

  async #start(): Promise<void> {
    const dir = this.#dir;
    if (dir === undefined) return;
    await mkdir(dir, { recursive: true });
    const files = await this.#files();
    const last = files[files.length - 1];
    this.#fileStarted = this.#now();
    if (last !== undefined) {
      const info = await stat(join(dir, fileName(last)));
      const started = info.birthtimeMs > 0 ? info.birthtimeMs : info.mtimeMs;
      if (info.size < this.#maxFileBytes && this.#now() - started < this.#rotateAfterMs) {
        this.#fileNumber = last;
        this.#fileBytes = info.size;
        this.#fileStarted = started;
      } else {
        this.#fileNumber = last + 1;
      }
    }
    await this.#prune(this.#fileNumber);
    // Records of an earlier run are on disk only.
    this.#ringIncomplete = (await this.#files()).length > 0;
  }

  /** The file records are being appended to now. */
  get currentFile(): string | undefined {
    return this.#dir === undefined ? undefined : join(this.#dir, fileName(this.#fileNumber));
  }

  /** Takes records in; returns at once. */
  append(records: readonly ResourceLogRecord[]): void {
    for (const record of records) {
      if (this.#ring.push(entryOf(record))) this.#ringIncomplete = true;
      if (this.#dir === undefined || this.#closed) continue;
      const line = `${JSON.stringify(record)}\n`;
      this.#pending.push(line);
      // Characters, not bytes: only the eager-flush threshold reads this, and records are nearly all ASCII.
      this.#pendingBytes += line.length;
    }
    if (this.#pending.length === 0) return;
    if (this.#pendingBytes >= EAGER_FLUSH_BYTES) {
      void this.flush();
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => void this.flush(), this.#flushDelayMs);
      this.#timer.unref();
    }
  }

  /** Writes every record appended so far; resolves once they are on disk (or their write failed and was reported). */
  flush(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#pending;
    if (batch.length > 0) {
      this.#pending = [];
      this.#pendingBytes = 0;
      this.#writing = this.#writing.then(() => this.#write(batch)).catch((error: unknown) => this.#onError(error, "Cannot write resource logs"));
    }
    return this.#writing;
  }

  /** Writes what is pending; later appends stay in memory only. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
  }

  /**
   * The newest `limit` records matching the query, oldest first. Served from memory when it holds every match the
   * query can want; otherwise (older records, or records from an earlier run) from the files, newest file first.
   */
  async query(query: ResourceLogQuery): Promise<ResourceLogRecord[]> {
    const found: ResourceLogRecord[] = [];
    for (const entry of this.#ring.newest()) {
      if (found.length >= query.limit) break;
      if (matches(entry, query)) found.push(entry.record);
    }
    const oldest = this.#ring.oldest();
    const covered =
      this.#dir === undefined ||
      !this.#ringIncomplete ||
      found.length >= query.limit ||
      (query.since !== undefined && oldest !== undefined && Math.floor(query.since / 1000) * 1000 > oldest.timeMs);
    if (covered) return found.reverse();
    await this.flush();
    return (await this.#queryFiles(query)).reverse();
  }

  async #queryFiles(query: ResourceLogQuery): Promise<ResourceLogRecord[]> {
    const dir = this.#dir!;
    const found: ResourceLogRecord[] = [];
    const sinceMs = query.since === undefined ? undefined : Math.floor(query.since / 1000) * 1000;
    for (const n of (await this.#files()).reverse()) {
      let text: string;
      try {
        text = await readFile(join(dir, fileName(n)), "utf8");
      } catch (error) {
        // Deleted by retention while we listed: its records are gone anyway.
        if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw error;
      }
      const lines = text.split("\n");
      for (let i = lines.length - 1; i >= 0; i--) {
        const line = lines[i]!;
        if (line === "") continue;
        let record: ResourceLogRecord;
        try {
          record = JSON.parse(line) as ResourceLogRecord;
        } catch {
          continue; // A torn last line after a crash.
        }
        const entry = entryOf(record);
        // Records are appended in hub-time order (the hub clock never goes back), so older lines cannot match.
        if (sinceMs !== undefined && entry.timeMs < sinceMs) return found;
        if (!matches(entry, query)) continue;
        found.push(record);
        if (found.length >= query.limit) return found;
      }
    }
    return found;
  }

  async #write(lines: readonly string[]): Promise<void> {
    const dir = this.#dir!;
    if (this.#fileBytes > 0 && this.#now() - this.#fileStarted >= this.#rotateAfterMs) await this.#rotate();
    let chunk = "";
    let chunkBytes = 0;
    for (const line of lines) {
      const size = Buffer.byteLength(line);
      if (this.#fileBytes + chunkBytes + size > this.#maxFileBytes && this.#fileBytes + chunkBytes > 0) {
        if (chunkBytes > 0) await appendFile(join(dir, fileName(this.#fileNumber)), chunk);
        this.#fileBytes += chunkBytes;
        chunk = "";
        chunkBytes = 0;
        await this.#rotate();
      }
      chunk += line;
      chunkBytes += size;
    }
    if (chunkBytes > 0) await appendFile(join(dir, fileName(this.#fileNumber)), chunk);
    this.#fileBytes += chunkBytes;
  }

  async #rotate(): Promise<void> {
    this.#fileNumber++;
    this.#fileBytes = 0;
    this.#fileStarted = this.#now();
    await this.#prune(this.#fileNumber);
  }

  /** Deletes files past the age limit, then the oldest past the count limit; never the file being written. */
  async #prune(current: number | undefined): Promise<void> {
    const dir = this.#dir!;
    const files = await this.#files();
    const keep: number[] = [];
    for (const n of files) {
      if (n === current) continue;
      try {
        const info = await stat(join(dir, fileName(n)));
        if (this.#now() - info.mtimeMs > this.#maxAgeMs) await unlink(join(dir, fileName(n)));
        else keep.push(n);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") this.#onError(error, "Cannot delete an expired resource log file");
      }
    }
    const room = this.#maxFiles - (current === undefined ? 0 : 1);
    for (const n of keep.slice(0, Math.max(0, keep.length - room))) {
      await unlink(join(dir, fileName(n))).catch((error: unknown) => this.#onError(error, "Cannot delete an old resource log file"));
    }
  }

  /** File numbers present, ascending. */
  async #files(): Promise<number[]> {
    const names = await readdir(this.#dir!);
    return names
      .map((name) => FILE.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }
}
