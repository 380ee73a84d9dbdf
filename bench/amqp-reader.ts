/**
 * The Event Hubs reader of `bench/amqp.ts`: @azure/event-hubs' EventHubConsumerClient in a child process, because the
 * SDK has no `ca` option and Node reads NODE_EXTRA_CA_CERTS only at start-up (the parent makes the CA, then starts
 * this with NODE_EXTRA_CA_CERTS pointing at it). Not meant to be run by hand. Commands, one JSON line each on stdin:
 *
 *   {"cmd":"subscribe","connectionString":…,"position":"latest"|"earliest","maxBatchSize":300,"prefetchCount":1000}
 *       one subscription per partition (ids from getPartitionIds, i.e. `$management`), skipParsingBodyAsJson; answers
 *       once every partition's first processEvents call came (the receiver links are up)
 *   {"cmd":"mark"}         events and lag (Date.now() − enqueuedTimeUtc, at processEvents) since the previous mark
 *   {"cmd":"unsubscribe"}  closes the subscriptions and the client (answers {closeMs, hung}: see unsubscribe())
 *   {"cmd":"close"}
 *
 * Prints `{"event":"ready","pid":…,"version":…}` first; exits when stdin ends.
 */
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { EventHubConsumerClient, earliestEventPosition, latestEventPosition, type Subscription } from "@azure/event-hubs";
import { quantile, send, serveCommands } from "./harness.js";

let client: EventHubConsumerClient | undefined;
let subscriptions: Subscription[] = [];
let count = 0;
let total = 0;
let lags: number[] = [];
let batches = 0;
let errors = 0;
let lastError = "";
let firstEventAt = NaN;
let lastEventAt = NaN;
const debug = process.env["BENCH_DEBUG"] === "1" ? (text: string): void => void process.stderr.write(`reader: ${text}\n`) : (): void => undefined;

async function subscribe(command: { connectionString?: unknown; position?: unknown; maxBatchSize?: unknown; prefetchCount?: unknown; consumerGroup?: unknown }): Promise<Record<string, unknown>> {
  const consumerGroup = typeof command.consumerGroup === "string" ? command.consumerGroup : "$Default";
  client = new EventHubConsumerClient(consumerGroup, String(command.connectionString), { retryOptions: { maxRetries: 1, retryDelayInMs: 200, timeoutInMs: 10_000 } });
  const t0 = performance.now();
  const ids = await client.getPartitionIds();
  const started = new Set<string>();
  let resolveStarted: () => void = () => undefined;
  const allStarted = new Promise<void>((r) => (resolveStarted = r));
  const startPosition = command.position === "earliest" ? earliestEventPosition : latestEventPosition;
  count = 0;
  total = 0;
  lags = [];
  firstEventAt = NaN;
  lastEventAt = NaN;
  subscriptions = ids.map((partitionId) =>
    client!.subscribe(
      partitionId,
      {
        processEvents: async (events) => {
          if (!started.has(partitionId)) {
            debug(`partition ${partitionId} started (${events.length} events)`);
            started.add(partitionId);
            if (started.size === ids.length) resolveStarted();
          }
          if (events.length === 0) return;
          batches++;
          const now = Date.now();
          for (const event of events) lags.push(now - event.enqueuedTimeUtc.getTime());
          count += events.length;
          total += events.length;
          const t = performance.now();
          if (Number.isNaN(firstEventAt)) firstEventAt = t;
          lastEventAt = t;
        },
        processError: async (error) => {
          debug(`processError ${partitionId}: ${error.message}`);
          errors++;
          lastError = error.message;
        },
      },
      {
        startPosition,
        maxBatchSize: Number(command.maxBatchSize ?? 300),
        prefetchCount: Number(command.prefetchCount ?? 1000),
        maxWaitTimeInSeconds: 1,
        skipParsingBodyAsJson: true,
      },
    ),
  );
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`only ${started.size} of ${ids.length} partitions started within 30 s (last error: ${lastError})`)), 30_000).unref());
  await Promise.race([allStarted, timeout]);
  return { partitions: ids.length, startMs: performance.now() - t0 };
}

function mark(): Record<string, unknown> {
  const sorted = lags.sort((a, b) => a - b);
  const answer = {
    count,
    total,
    batches,
    errors,
    lastError,
    lagP50: quantile(sorted, 0.5),
    lagP99: quantile(sorted, 0.99),
    lagMax: sorted.length === 0 ? NaN : sorted[sorted.length - 1],
    // performance.now() of this process: the parent only compares the two.
    firstEventAt,
    lastEventAt,
    now: performance.now(),
  };
  count = 0;
  batches = 0;
  lags = [];
  return answer;
}

/**
 * Closes the subscriptions and the client, each within 10 s. Answers how long that took and whether it hung: closing
 * while the hub is still streaming can leave `client.close()` pending for good (the parent then ends this process).
 */
async function unsubscribe(): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const within = (p: Promise<unknown>): Promise<boolean> =>
    Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000).unref())]);
  const subscriptionsClosed = await within(Promise.all(subscriptions.map((s) => s.close())));
  debug(`subscriptions closed: ${subscriptionsClosed} after ${(performance.now() - t0).toFixed(0)} ms`);
  subscriptions = [];
  const clientClosed = client === undefined ? true : await within(client.close());
  debug(`client closed: ${clientClosed} after ${(performance.now() - t0).toFixed(0)} ms`);
  client = undefined;
  return { closeMs: performance.now() - t0, hung: !(subscriptionsClosed && clientClosed), errors, lastError };
}

async function close(): Promise<never> {
  await unsubscribe().catch(() => undefined);
  process.exit(0);
}

serveCommands(async (command: { cmd?: unknown }) => {
  debug(`command ${String(command.cmd)}`);
  switch (command.cmd) {
    case "subscribe":
      return subscribe(command as Parameters<typeof subscribe>[0]);
    case "mark":
      return mark();
    case "unsubscribe":
      return unsubscribe();
    case "close":
      return close();
    default:
      throw new Error(`unknown command ${JSON.stringify(command.cmd)}`);
  }
}, close);

const version = (JSON.parse(readFileSync(new URL("../node_modules/@azure/event-hubs/package.json", import.meta.url), "utf8")) as { version: string }).version;
send({ event: "ready", pid: process.pid, version });
