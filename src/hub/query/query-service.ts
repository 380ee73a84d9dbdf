import { createHash } from "node:crypto";
import { HubError, isHubError } from "../errors/index.js";
import type { HubEvents } from "../events/hub-event.js";
import type { Clock } from "../ports/clock.js";
import type { CallContext } from "../call-context.js";
import { requireRight } from "../auth/service-auth.js";
import type { IdentityEntry, IdentityKey, Store } from "../ports/store.js";
import { matchView, renderEntry } from "../twins/twin-service.js";
import { compileQuery, type CompiledQuery } from "./index.js";
import type { HubLimits } from "../limits/hub-limits.js";
import type { FaultRules } from "../faults/fault-rules.js";

export interface QueryServiceDeps {
  readonly store: Store;
  /** Where each page is reported (the TwinQueries resource log), timed on `clock`. */
  readonly events?: HubEvents;
  readonly clock?: Clock;
  /** Tier limits: basic tiers have no twins to query (403010), the query throttle, the quota (by result size). */
  readonly hubLimits?: HubLimits;
  /** Fault injection (decision 0012): a rule that fires fails, delays or drops the call where it enters. */
  readonly faults?: FaultRules;
}

export interface QueryInput {
  /** The request body: must be `{"query": "<text>"}`. */
  readonly body: unknown;
  /** x-ms-max-item-count, if sent. */
  readonly maxItemCount: string | undefined;
  /** x-ms-continuation, if sent. */
  readonly continuation: string | undefined;
}

export interface QueryPage {
  readonly items: unknown[];
  /** The x-ms-item-type header: "twin" for SELECT *, "raw" for projections and aggregates. */
  readonly itemType: "twin" | "raw";
  /** Present only when more pages remain; the SDK loops while the header exists (service-protocol §0.5). */
  readonly continuation: string | undefined;
}

/** Learn: queries are at most 8192 characters; pages hold at most 100 items (query reference §1.7). */
const MAX_QUERY_LENGTH = 8192;
const MAX_PAGE = 100;
const SCAN_CHUNK = 1000;

/** Where the previous page stopped: after a key (document queries) or at an offset (aggregate rows). */
interface Cursor {
  readonly q: string;
  readonly after?: [string, string];
  readonly offset?: number;
  readonly returned: number;
}

/** POST /devices/query: the IoT Hub query language over device and module twins, with paging. */
export class QueryService {
  readonly #deps: QueryServiceDeps;

  constructor(deps: QueryServiceDeps) {
    this.#deps = deps;
  }

  async query(ctx: CallContext, input: QueryInput): Promise<QueryPage> {
    const { events, clock } = this.#deps;
    if (events === undefined || clock === undefined) return this.#query(ctx, input);
    const started = clock.now();
    // TwinQueries logs every page, failed or not, with the query text and sizes (monitoring.md §2.9).
    const emit = (page: QueryPage | undefined, error?: unknown): void => {
      const body = input.body;
      const text = typeof body === "object" && body !== null ? (body as Record<string, unknown>)["query"] : undefined;
      const time = clock.now();
      events.emit({
        type: "twinQuery",
        time,
        query: typeof text === "string" ? text : "",
        durationMs: time - started,
        messageSize: Buffer.byteLength(JSON.stringify(body ?? null) ?? ""),
        pageSize: pageSizeOf(input.maxItemCount),
        continuation: input.continuation !== undefined,
        resultSize: page === undefined ? 0 : Buffer.byteLength(JSON.stringify(page.items)),
        sdkVersion: ctx.client?.sdkVersion,
        ...(error === undefined ? {} : { error: isHubError(error) ? error.errorName : ("ServerError" as const) }),
      });
    };
    try {
      const page = await this.#query(ctx, input);
      emit(page);
      return page;
    } catch (error) {
      emit(undefined, error);
      throw error;
    }
  }

  async #query(ctx: CallContext, input: QueryInput): Promise<QueryPage> {
    requireRight(ctx, "ServiceConnect");
    const text = queryText(ctx, input.body);
    const compiled = compileQuery(text);
    const digest = createHash("sha256").update(text).digest("base64url").slice(0, 12);
    const cursor = input.continuation === undefined ? { q: digest, returned: 0 } : readCursor(ctx, input.continuation, digest);
    const pageSize = pageSizeOf(input.maxItemCount);
    const limit = Math.min(pageSize, (compiled.top ?? Infinity) - cursor.returned);
    await this.#deps.faults?.enter(ctx, "query");
    await this.#deps.hubLimits?.admit(ctx, "query");
    const page = compiled.isAggregate ? await this.#aggregatePage(compiled, cursor, limit) : await this.#documentPage(compiled, cursor, limit);
    // Service-protocol.md §7.1: twin queries count against the daily quota by result size.
    this.#deps.hubLimits?.meterJson(page.items);
    return page;
  }

  async #documentPage(compiled: CompiledQuery, cursor: Cursor, limit: number): Promise<QueryPage> {
    const items: unknown[] = [];
    let after: IdentityKey | undefined = cursor.after === undefined ? undefined : { deviceId: cursor.after[0], moduleId: cursor.after[1] };
    let last: IdentityKey | undefined;
    let more = false;
    scanning: while (limit > 0) {
      const entries = await this.#deps.store.scan({ collection: compiled.collection, limit: SCAN_CHUNK, ...(after === undefined ? {} : { after }) });
      for (const entry of entries) {
        if (!compiled.matches(matchView(entry))) continue;
        // A full page stops only once another match is known to exist, so the last page never carries a token.
        if (items.length === limit) {
          more = true;
          break scanning;
        }
        items.push(compiled.project(renderEntry(entry)));
        last = keyOf(entry);
      }
      if (entries.length < SCAN_CHUNK) break;
      after = keyOf(entries[entries.length - 1]!);
    }
    const continuation = more && last !== undefined && underTop(compiled, cursor.returned + items.length) ? writeCursor({ q: cursor.q, after: [last.deviceId, last.moduleId], returned: cursor.returned + items.length }) : undefined;
    return { items, itemType: compiled.itemType, continuation };
  }

  async #aggregatePage(compiled: CompiledQuery, cursor: Cursor, limit: number): Promise<QueryPage> {
    const rows = compiled.aggregate(await this.#matchingDocs(compiled));
    const offset = cursor.offset ?? 0;
    const items = rows.slice(offset, offset + Math.max(limit, 0));
    const next = offset + items.length;
    const continuation = next < rows.length && items.length === limit && underTop(compiled, cursor.returned + items.length) ? writeCursor({ q: cursor.q, offset: next, returned: cursor.returned + items.length }) : undefined;
    return { items, itemType: compiled.itemType, continuation };
  }

  async #matchingDocs(compiled: CompiledQuery): Promise<Record<string, unknown>[]> {
    const docs: Record<string, unknown>[] = [];
    let after: IdentityKey | undefined;
    for (;;) {
      const entries = await this.#deps.store.scan({ collection: compiled.collection, limit: SCAN_CHUNK, ...(after === undefined ? {} : { after }) });
      for (const entry of entries) {
        // Entries are fresh copies from the store, so their views can be aggregated without copying again.
        const doc = matchView(entry);
        if (compiled.matches(doc)) docs.push(doc);
      }
      if (entries.length < SCAN_CHUNK) return docs;
      after = keyOf(entries[entries.length - 1]!);
    }
  }
}

/** TOP n caps the whole result, across pages. */
function underTop(compiled: CompiledQuery, returned: number): boolean {
  return compiled.top === undefined || returned < compiled.top;
}

function keyOf(entry: IdentityEntry): IdentityKey {
  return { deviceId: entry.identity.deviceId, moduleId: entry.identity.moduleId };
}

function queryText(ctx: CallContext, body: unknown): string {
  const text = typeof body === "object" && body !== null ? (body as Record<string, unknown>)["query"] : undefined;
  if (typeof text !== "string" || text.trim() === "") {
    throw new HubError("ArgumentNull", { trackingId: ctx.trackingId, message: `The request body must be {"query": "<query text>"}` });
  }
  if (text.length > MAX_QUERY_LENGTH) {
    throw new HubError("ArgumentInvalid", { trackingId: ctx.trackingId, message: `The query is ${text.length} characters long; the limit is ${MAX_QUERY_LENGTH}` });
  }
  return text;
}

/** x-ms-max-item-count is advisory: clamp to 1-100, default 100 (query reference §1.7). */
function pageSizeOf(header: string | undefined): number {
  const n = header === undefined ? NaN : Number(header);
  return Number.isInteger(n) && n >= 1 ? Math.min(n, MAX_PAGE) : MAX_PAGE;
}

function writeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString("base64url");
}

function readCursor(ctx: CallContext, token: string, digest: string): Cursor {
  let cursor: Cursor | undefined;
  try {
    cursor = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as Cursor;
  } catch {
    cursor = undefined;
  }
  if (cursor === undefined || typeof cursor !== "object" || cursor === null || cursor.q !== digest || typeof cursor.returned !== "number") {
    throw new HubError("ArgumentInvalid", { trackingId: ctx.trackingId, message: "The continuation token is not valid for this query: send the same query text with the token of its previous page" });
  }
  return cursor;
}
