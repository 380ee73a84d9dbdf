import { HubError } from "../errors/index.js";
import type { CallContext } from "../call-context.js";
import { requireRight } from "../auth/service-auth.js";
import type { HubEvents } from "../events/hub-event.js";
import type { Clock } from "../ports/clock.js";
import type { Store } from "../ports/store.js";
import type { TelemetryLog } from "../ports/telemetry-log.js";
import type { HubTimers, TimerHandle } from "../timers/hub-timers.js";
import { ConsumerGroups } from "./consumer-groups.js";
import { enqueuedTimeFinder, offsetOf, parseEventPosition, resolveStartSequenceNumber, type EventPosition } from "./event-position.js";
import { PartitionReader, TelemetryFollowers } from "./partition-reader.js";

/** The store setting holding when the endpoint was first started (ms since epoch, hub time): `created_at`. */
export const EVENT_HUB_CREATED_AT_SETTING = "eventHubCreatedAt";

const DAY_MS = 24 * 3600 * 1000;
/** Learn, IoT Hub built-in endpoint: events are retained 1 day by default, configurable up to 7 days. */
export const DEFAULT_RETENTION_MS = DAY_MS;
export const MIN_RETENTION_MS = DAY_MS;
export const MAX_RETENTION_MS = 7 * DAY_MS;
/** How often (hub time) expired events are trimmed; Event Hubs removes expired segments in the background too. */
export const RETENTION_SWEEP_MS = 3600 * 1000;
/** Event Hubs quota: at most 5 concurrent receivers per partition per consumer group (non-epoch receivers). */
export const MAX_NON_EPOCH_RECEIVERS = 5;

export interface EventHubDeps {
  /** The Event Hub-compatible name: the entity in `EntityPath`, normally the hub name. */
  readonly name: string;
  readonly partitionCount: number;
  readonly log: TelemetryLog;
  readonly store: Store;
  /** The hub clock. */
  readonly clock: Clock;
  readonly timers: HubTimers;
  readonly events: HubEvents;
  /** How long events stay readable, 1-7 days (default 1 day). */
  readonly retentionMs?: number;
  readonly reportError: (error: unknown) => void;
}

/** What `$management` READ `com.microsoft:eventhub` answers. */
export interface EventHubProperties {
  readonly name: string;
  /** ms since epoch (`created_at`). */
  readonly createdAt: number;
  readonly partitionIds: string[];
}

/** What `$management` READ `com.microsoft:partition` answers (and the runtime-metric delivery annotations). */
export interface PartitionProperties {
  readonly name: string;
  readonly partitionId: string;
  readonly beginningSequenceNumber: number;
  /** -1 when nothing was ever enqueued. */
  readonly lastEnqueuedSequenceNumber: number;
  /** "-1" when nothing was ever enqueued. */
  readonly lastEnqueuedOffset: string;
  /** ms since epoch; 0 when nothing was ever enqueued. */
  readonly lastEnqueuedTimeUtc: number;
  /** No event is retained (never written, or all expired). */
  readonly isEmpty: boolean;
}

export interface OpenReaderInput {
  /** As the client spelled it (matched without regard to case). */
  readonly consumerGroup: string;
  readonly partitionId: string;
  /** The attach's `apache.org:selector-filter:string` expression; none means from the first retained event. */
  readonly filter: string | undefined;
}

export interface ReceiverClaim {
  readonly consumerGroup: string;
  readonly partitionId: string;
  /** `com.microsoft:epoch` of the attach; undefined when the attach had none. */
  readonly epoch: number | undefined;
  /** `com.microsoft:receiver-name`, for the messages Event Hubs words with it. */
  readonly receiverName?: string;
  /** A newer receiver displaced this one: detach it with `amqp:link:stolen` and this description. */
  readonly onStolen: (message: string) => void;
  /** The consumer group was deleted (HubError NotFound): detach the link with that error. */
  readonly onRevoked?: (error: HubError) => void;
  readonly trackingId?: string;
}

interface Holder {
  readonly epoch: number | undefined;
  readonly receiverName: string | undefined;
  readonly onStolen: (message: string) => void;
  readonly onRevoked: ((error: HubError) => void) | undefined;
}

const PARTITION_ID = /^(0|[1-9]\d*)$/;

function named(receiverName: string | undefined): string {
  return receiverName === undefined || receiverName === "" ? "nil" : receiverName;
}

/**
 * IoT Hub's built-in Event Hub-compatible endpoint: the entity, its partitions and consumer groups, receivers'
 * start positions, epoch ownership and retention. The AMQP gateway renders it on the wire (`$management`, receiver
 * links); telemetry reaches it through the telemetry log.
 */
export class EventHubEndpoint {
  readonly name: string;
  readonly partitionCount: number;
  readonly createdAt: number;
  readonly retentionMs: number;
  readonly consumerGroups: ConsumerGroups;
  readonly #deps: EventHubDeps;
  readonly #followers: TelemetryFollowers;
  /** Receivers by lower-cased consumer group, then partition. */
  readonly #holders = new Map<string, Holder[]>();
  #sweep: TimerHandle | undefined;
  #trimming: Promise<number> = Promise.resolve(0);
  #stopped = false;

  private constructor(deps: EventHubDeps, createdAt: number, retentionMs: number, consumerGroups: ConsumerGroups) {
    this.#deps = deps;
    this.name = deps.name;
    this.partitionCount = deps.partitionCount;
    this.createdAt = createdAt;
    this.retentionMs = retentionMs;
    this.consumerGroups = consumerGroups;
    this.#followers = new TelemetryFollowers(deps.events, deps.reportError);
    consumerGroups.onRemoved((name) => this.#groupRemoved(name));
  }

  /** Loads the consumer groups and creation time, trims expired events once, and starts the hourly retention sweep. */
  static async create(deps: EventHubDeps): Promise<EventHubEndpoint> {
    const retentionMs = deps.retentionMs ?? DEFAULT_RETENTION_MS;
    if (!Number.isFinite(retentionMs) || retentionMs < MIN_RETENTION_MS || retentionMs > MAX_RETENTION_MS) {
      throw new HubError("ArgumentInvalid", { message: `The event retention must be 1 to 7 days (${MIN_RETENTION_MS}-${MAX_RETENTION_MS} ms), not ${retentionMs} ms` });
    }
    const consumerGroups = new ConsumerGroups(deps.store);
    await consumerGroups.load();
    let createdAt = await deps.store.getSetting(EVENT_HUB_CREATED_AT_SETTING);
    if (typeof createdAt !== "number" || !Number.isFinite(createdAt)) {
      createdAt = deps.clock.now();
      await deps.store.putSetting(EVENT_HUB_CREATED_AT_SETTING, createdAt);
    }
    const endpoint = new EventHubEndpoint(deps, createdAt as number, retentionMs, consumerGroups);
    await endpoint.trimExpired();
    endpoint.#scheduleSweep();
    return endpoint;
  }

  get partitionIds(): string[] {
    return Array.from({ length: this.partitionCount }, (_, i) => String(i));
  }

  properties(): EventHubProperties {
    return { name: this.name, createdAt: this.createdAt, partitionIds: this.partitionIds };
  }

  /** @throws HubError ArgumentInvalid for a partition id that is not one of "0".."n-1". */
  async partitionProperties(partitionId: string, trackingId?: string): Promise<PartitionProperties> {
    const partition = this.#partition(partitionId, trackingId);
    const info = await this.#deps.log.partitionInfo(partition);
    const written = info.lastSequenceNumber >= 0;
    return {
      name: this.name,
      partitionId,
      beginningSequenceNumber: info.firstSequenceNumber,
      lastEnqueuedSequenceNumber: written ? info.lastSequenceNumber : -1,
      lastEnqueuedOffset: written ? offsetOf(info.lastSequenceNumber) : "-1",
      lastEnqueuedTimeUtc: written ? (info.lastEnqueuedTime ?? 0) : 0,
      isEmpty: info.firstSequenceNumber > info.lastSequenceNumber,
    };
  }

  /**
   * A receiver's cursor on one partition, starting where its filter says. Needs ServiceConnect.
   * @throws HubError NotFound for an unknown consumer group, ArgumentInvalid for an unknown partition, an
   *   unparseable filter, or an offset / sequence number beyond the end of the partition.
   */
  async openReader(ctx: CallContext, input: OpenReaderInput): Promise<PartitionReader> {
    requireRight(ctx, "ServiceConnect");
    this.#consumerGroup(input.consumerGroup, ctx.trackingId);
    const partition = this.#partition(input.partitionId, ctx.trackingId);
    // Without a filter Event Hubs starts at the beginning of the stream.
    const position: EventPosition = input.filter === undefined ? { kind: "earliest" } : parseEventPosition(input.filter, ctx.trackingId);
    const log = this.#deps.log;
    const info = await log.partitionInfo(partition);
    const start = await resolveStartSequenceNumber(position, info, enqueuedTimeFinder(log, info), ctx.trackingId);
    return new PartitionReader({
      log,
      followers: this.#followers,
      partition,
      startSequenceNumber: start,
      ...(position.kind === "enqueuedTime" ? { enqueuedAfter: { time: position.enqueuedTime, inclusive: position.inclusive } } : {}),
    });
  }

  /**
   * Registers a receiver of a consumer group + partition under Event Hubs' epoch rules and returns its release.
   * An epoch receiver displaces every receiver there with an equal or lower epoch and every non-epoch receiver
   * (their `onStolen` is called before this returns).
   * @throws HubError LinkCreationConflict (amqp:link:stolen) when a receiver with a higher epoch holds the partition,
   *   or a non-epoch receiver attaches while an epoch receiver holds it; JobQuotaExceeded
   *   (amqp:resource-limit-exceeded) for a 6th non-epoch receiver; NotFound / ArgumentInvalid for an unknown consumer
   *   group / partition.
   */
  claim(input: ReceiverClaim): () => void {
    const trackingId = input.trackingId;
    const group = this.#consumerGroup(input.consumerGroup, trackingId);
    const partition = this.#partition(input.partitionId, trackingId);
    const epoch = input.epoch;
    if (epoch !== undefined && !Number.isSafeInteger(epoch)) {
      throw new HubError("ArgumentInvalid", { message: `The epoch '${epoch}' is not an integer`, ...(trackingId === undefined ? {} : { trackingId }) });
    }
    const key = `${group.toLowerCase()}/${partition}`;
    const holders = this.#holders.get(key) ?? [];
    const where = `consumer group '${group}', partition '${partition}'`;
    const epochHolder = holders.find((h) => h.epoch !== undefined);
    if (epoch === undefined) {
      if (epochHolder !== undefined) {
        throw new HubError("LinkCreationConflict", {
          message: `At least one receiver for ${where} is created with epoch of '${epochHolder.epoch}', and so non-epoch receiver is not allowed. Either reconnect with a higher epoch, or make sure all epoch receivers are closed or disconnected.`,
          ...(trackingId === undefined ? {} : { trackingId }),
        });
      }
      if (holders.length >= MAX_NON_EPOCH_RECEIVERS) {
        throw new HubError("JobQuotaExceeded", {
          message: `Exceeded the maximum number of allowed receivers per partition in a consumer group which is ${MAX_NON_EPOCH_RECEIVERS} (${where}). List of connected receivers - ${holders.map((h) => named(h.receiverName)).join(", ")}.`,
          ...(trackingId === undefined ? {} : { trackingId }),
        });
      }
    } else if (epochHolder !== undefined && epochHolder.epoch! > epoch) {
      throw new HubError("LinkCreationConflict", {
        message: `Receiver '${named(input.receiverName)}' with epoch '${epoch}' cannot be created because receiver '${named(epochHolder.receiverName)}' with the higher epoch '${epochHolder.epoch}' already exists on ${where}. Reconnect with an epoch of at least '${epochHolder.epoch}'.`,
        ...(trackingId === undefined ? {} : { trackingId }),
      });
    }
    const holder: Holder = { epoch, receiverName: input.receiverName, onStolen: input.onStolen, onRevoked: input.onRevoked };
    // An epoch receiver takes the partition: Event Hubs disconnects every lower-or-equal-epoch and non-epoch receiver.
    const displaced = epoch === undefined ? [] : holders;
    this.#holders.set(key, epoch === undefined ? [...holders, holder] : [holder]);
    for (const old of displaced) {
      const previous = old.epoch === undefined ? "without an epoch" : `with epoch '${old.epoch}'`;
      this.#call(() =>
        old.onStolen(
          `New receiver '${named(input.receiverName)}' with higher epoch of '${epoch}' is created hence current receiver '${named(old.receiverName)}' ${previous} is getting disconnected. If you are recreating the receiver, make sure a higher epoch is used.`,
        ),
      );
    }
    return () => {
      const current = this.#holders.get(key);
      if (current === undefined || !current.includes(holder)) return;
      const rest = current.filter((h) => h !== holder);
      if (rest.length === 0) this.#holders.delete(key);
      else this.#holders.set(key, rest);
    };
  }

  /** Drops events enqueued longer than the retention period ago (hub time); resolves with how many were removed. */
  trimExpired(): Promise<number> {
    // One trim at a time: a sweep that fires while the previous one still runs waits for it.
    const run = this.#trimming.then(() => this.#deps.log.trim(this.#deps.clock.now() - this.retentionMs));
    this.#trimming = run.catch(() => 0);
    return run;
  }

  /** Cancels the retention sweep (hub shutdown). */
  stop(): void {
    this.#stopped = true;
    this.#sweep?.cancel();
  }

  #scheduleSweep(): void {
    if (this.#stopped) return;
    // On the hub clock: advancing it past the retention period fires the sweep and makes old events unreadable.
    this.#sweep = this.#deps.timers.after(RETENTION_SWEEP_MS, () => {
      this.trimExpired().catch(this.#deps.reportError);
      this.#scheduleSweep();
    });
  }

  #partition(partitionId: string, trackingId: string | undefined): number {
    const partition = PARTITION_ID.test(partitionId) ? Number(partitionId) : NaN;
    if (!(partition < this.partitionCount)) {
      throw new HubError("ArgumentInvalid", {
        message: `The partition '${partitionId}' does not exist; partitions are 0-${this.partitionCount - 1}`,
        ...(trackingId === undefined ? {} : { trackingId }),
      });
    }
    return partition;
  }

  #consumerGroup(name: string, trackingId: string | undefined): string {
    const group = this.consumerGroups.resolve(name);
    if (group === undefined) {
      throw new HubError("NotFound", { message: `The consumer group '${name}' does not exist`, ...(trackingId === undefined ? {} : { trackingId }) });
    }
    return group;
  }

  #groupRemoved(name: string): void {
    const prefix = `${name.toLowerCase()}/`;
    for (const [key, holders] of [...this.#holders]) {
      if (!key.startsWith(prefix)) continue;
      this.#holders.delete(key);
      for (const holder of holders) {
        const revoked = holder.onRevoked;
        if (revoked !== undefined) this.#call(() => revoked(new HubError("NotFound", { message: `The consumer group '${name}' does not exist: it was deleted` })));
      }
    }
  }

  #call(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#deps.reportError(error);
    }
  }
}
