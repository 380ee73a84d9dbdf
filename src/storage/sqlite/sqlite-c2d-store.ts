import Database from "better-sqlite3";
import { applyMigrations } from "./apply-migrations.js";
import {
  checkC2dDelivery,
  checkC2dEnqueue,
  checkC2dFeedbackRead,
  checkC2dRemovals,
  checkC2dSequenceNumbers,
  type C2dDelivery,
  type C2dEnqueue,
  type C2dFeedbackReadOptions,
  type C2dFeedbackRecord,
  type C2dFeedbackStatus,
  type C2dMessage,
  type C2dRemoval,
  type C2dRemoveResult,
  type C2dStore,
  type C2dSystemProperties,
} from "../../hub/ports/c2d-store.js";
import { c2dMigrations } from "./c2d-migrations.js";

export interface SqliteC2dStoreOptions {
  /** The store's own database file (e.g. `<dataDir>/c2d.db`), created if missing, or ":memory:". */
  path: string;
}

/**
 * `PRAGMA application_id` of a C2D database ("MaLC"). The identity store's file has 0 and the telemetry log's "MaLT":
 * opening one as another is refused instead of being "migrated" by the wrong schema.
 */
export const C2D_APPLICATION_ID = 0x4d614c43;

/** One write waiting for the next group commit. `work` runs inside the commit's transaction. */
interface PendingWrite {
  readonly work: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

interface MessageRow {
  id: string;
  device_id: string;
  sequence_number: number;
  device_generation_id: string;
  enqueued_time: number;
  expiry_time: number;
  delivery_count: number;
  lock_token: string | null;
  locked_until: number | null;
  system_properties: string;
  properties: string;
  body: Buffer;
}

interface FeedbackRow {
  sequence_number: number;
  original_message_id: string;
  device_id: string;
  device_generation_id: string;
  enqueued_time: number;
  status_code: string;
  description: string;
}

const MESSAGE_COLUMNS = `id, device_id, sequence_number, device_generation_id, enqueued_time, expiry_time, delivery_count,
  lock_token, locked_until, system_properties, properties, body`;
const FEEDBACK_COLUMNS = "sequence_number, original_message_id, device_id, device_generation_id, enqueued_time, status_code, description";

/**
 * A C2dStore in its own SQLite file, through better-sqlite3, with group commit.
 *
 * Each write is validated and snapshotted when it is called (bodies copied, maps serialized), then queued; every write
 * made during the current turn of the event loop runs in one IMMEDIATE transaction in a `setImmediate` callback, each
 * inside its own savepoint, and each caller's promise resolves once that transaction has committed. With
 * `synchronous = FULL` the commit fsyncs the WAL, so a resolved write is on disk: a send is acknowledged to the service
 * only after this. A write that fails on its own (say a duplicate id) rolls back to its savepoint and rejects alone;
 * if the commit itself fails, every caller of the batch gets the error and nothing of the batch is kept. Reads run at
 * once and see every write that has resolved.
 */
export class SqliteC2dStore implements C2dStore {
  static open(options: SqliteC2dStoreOptions): SqliteC2dStore {
    const db = new Database(options.path);
    try {
      db.pragma("journal_mode = WAL");
      // FULL fsyncs the WAL on every commit: a C2D send is acknowledged only after enqueue() resolves.
      db.pragma("synchronous = FULL");
      migrate(db);
      return new SqliteC2dStore(db);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  private readonly selectLastSequence: Database.Statement<[string], number>;
  private readonly upsertDevice: Database.Statement<[string, number]>;
  private readonly insertMessage: Database.Statement<
    [string, string, number, string, number, number, string, string, Buffer]
  >;
  private readonly selectMessages: Database.Statement<[string], MessageRow>;
  private readonly selectMessage: Database.Statement<[string], MessageRow>;
  private readonly countMessages: Database.Statement<[string], number>;
  private readonly updateDelivery: Database.Statement<[number, string | null, number | null, string, string | null]>;
  private readonly deleteMessage: Database.Statement<[string]>;
  private readonly insertFeedback: Database.Statement<[string, string, string, number, string, string]>;
  private readonly selectDevices: Database.Statement<[], string>;
  private readonly deleteDeviceMessages: Database.Statement<[string]>;
  private readonly deleteDeviceFeedback: Database.Statement<[string]>;
  private readonly deleteDeviceRow: Database.Statement<[string]>;
  private readonly selectFeedback: Database.Statement<[number, number], FeedbackRow>;
  private readonly deleteFeedbackRow: Database.Statement<[number]>;
  private readonly commit: Database.Transaction<(batch: readonly PendingWrite[]) => Outcome[]>;
  private readonly savepoint: Database.Transaction<(work: () => unknown) => unknown>;

  private queue: PendingWrite[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  private committed = 0;
  private closed = false;

  private constructor(private readonly db: Database.Database) {
    this.selectLastSequence = db
      .prepare<[string], number>("SELECT last_sequence_number FROM c2d_devices WHERE device_id = ?")
      .pluck();
    this.upsertDevice = db.prepare(
      `INSERT INTO c2d_devices (device_id, last_sequence_number) VALUES (?, ?)
       ON CONFLICT (device_id) DO UPDATE SET last_sequence_number = excluded.last_sequence_number`,
    );
    this.insertMessage = db.prepare(
      `INSERT INTO c2d_messages (id, device_id, sequence_number, device_generation_id, enqueued_time, expiry_time,
         delivery_count, lock_token, locked_until, system_properties, properties, body)
       VALUES (?, ?, ?, ?, ?, ?, 0, NULL, NULL, ?, ?, ?)`,
    );
    this.selectMessages = db.prepare(
      `SELECT ${MESSAGE_COLUMNS} FROM c2d_messages WHERE device_id = ? ORDER BY sequence_number`,
    );
    this.selectMessage = db.prepare(`SELECT ${MESSAGE_COLUMNS} FROM c2d_messages WHERE id = ?`);
    this.countMessages = db.prepare<[string], number>("SELECT count(*) FROM c2d_messages WHERE device_id = ?").pluck();
    this.updateDelivery = db.prepare(
      `UPDATE c2d_messages SET delivery_count = ?, lock_token = ?, locked_until = ?
       WHERE id = ? AND lock_token IS ?`,
    );
    this.deleteMessage = db.prepare("DELETE FROM c2d_messages WHERE id = ?");
    this.insertFeedback = db.prepare(
      `INSERT INTO c2d_feedback (original_message_id, device_id, device_generation_id, enqueued_time, status_code, description)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.selectDevices = db.prepare<[], string>("SELECT device_id FROM c2d_devices ORDER BY device_id").pluck();
    this.deleteDeviceMessages = db.prepare("DELETE FROM c2d_messages WHERE device_id = ?");
    this.deleteDeviceFeedback = db.prepare("DELETE FROM c2d_feedback WHERE device_id = ?");
    this.deleteDeviceRow = db.prepare("DELETE FROM c2d_devices WHERE device_id = ?");
    this.selectFeedback = db.prepare(
      `SELECT ${FEEDBACK_COLUMNS} FROM c2d_feedback WHERE sequence_number >= ? ORDER BY sequence_number LIMIT ?`,
    );
    this.deleteFeedbackRow = db.prepare("DELETE FROM c2d_feedback WHERE sequence_number = ?");

    // Inside `commit`, calling a transaction function opens a savepoint: a write that throws undoes only itself.
    this.savepoint = db.transaction((work: () => unknown) => work());
    this.commit = db.transaction((batch: readonly PendingWrite[]) =>
      batch.map((pending): Outcome => {
        try {
          return { ok: true, value: this.savepoint(pending.work) };
        } catch (error) {
          return { ok: false, error };
        }
      }),
    );
  }

  /** Transactions committed so far: with group commit, fewer than the writes. For tests and metrics. */
  get commits(): number {
    return this.committed;
  }

  async enqueue(message: C2dEnqueue): Promise<C2dMessage> {
    this.assertOpen();
    checkC2dEnqueue(message);
    // Snapshot now: the caller may reuse its buffer and objects as soon as this returns.
    const body = Buffer.from(message.body);
    const propertiesJson = JSON.stringify(message.properties);
    const systemJson = JSON.stringify(message.systemProperties);
    const { id, deviceId, deviceGenerationId, enqueuedTime, expiryTime } = message;
    return this.submit((): C2dMessage => {
      const sequenceNumber = (this.selectLastSequence.get(deviceId) ?? 0) + 1;
      this.upsertDevice.run(deviceId, sequenceNumber);
      this.insertMessage.run(id, deviceId, sequenceNumber, deviceGenerationId, enqueuedTime, expiryTime, systemJson, propertiesJson, body);
      return {
        id,
        deviceId,
        deviceGenerationId,
        sequenceNumber,
        enqueuedTime,
        expiryTime,
        deliveryCount: 0,
        lockToken: null,
        lockedUntil: null,
        body: Buffer.from(body),
        properties: JSON.parse(propertiesJson) as Record<string, string>,
        systemProperties: JSON.parse(systemJson) as C2dSystemProperties,
      };
    });
  }

  async list(deviceId: string): Promise<C2dMessage[]> {
    this.assertOpen();
    return this.selectMessages.all(deviceId).map(toMessage);
  }

  async count(deviceId: string): Promise<number> {
    this.assertOpen();
    return this.countMessages.get(deviceId) ?? 0;
  }

  async setDelivery(id: string, expectedLockToken: string | null, delivery: C2dDelivery): Promise<C2dMessage | undefined> {
    this.assertOpen();
    checkC2dDelivery(id, expectedLockToken, delivery);
    const { deliveryCount, lockToken, lockedUntil } = delivery;
    return this.submit(() => {
      const result = this.updateDelivery.run(deliveryCount, lockToken, lockedUntil, id, expectedLockToken);
      if (result.changes === 0) return undefined;
      return toMessage(this.selectMessage.get(id)!);
    });
  }

  async remove(removals: readonly C2dRemoval[]): Promise<C2dRemoveResult> {
    this.assertOpen();
    checkC2dRemovals(removals);
    const snapshot = removals.map((r) => ({ id: r.id, feedback: r.feedback === undefined ? undefined : { ...r.feedback } }));
    return this.submit((): C2dRemoveResult => {
      const removed: string[] = [];
      const feedback: C2dFeedbackRecord[] = [];
      for (const removal of snapshot) {
        if (this.deleteMessage.run(removal.id).changes === 0) continue;
        removed.push(removal.id);
        const f = removal.feedback;
        if (f === undefined) continue;
        const result = this.insertFeedback.run(f.originalMessageId, f.deviceId, f.deviceGenerationId, f.enqueuedTimeUtc, f.statusCode, f.description);
        feedback.push({
          sequenceNumber: Number(result.lastInsertRowid),
          originalMessageId: f.originalMessageId,
          deviceId: f.deviceId,
          deviceGenerationId: f.deviceGenerationId,
          enqueuedTimeUtc: f.enqueuedTimeUtc,
          statusCode: f.statusCode,
          description: f.description,
        });
      }
      return { removed, feedback };
    });
  }

  async devices(): Promise<string[]> {
    this.assertOpen();
    return this.selectDevices.all();
  }

  async deleteDevice(deviceId: string): Promise<number> {
    this.assertOpen();
    return this.submit(() => {
      const dropped = this.deleteDeviceMessages.run(deviceId).changes;
      this.deleteDeviceFeedback.run(deviceId);
      this.deleteDeviceRow.run(deviceId);
      return dropped;
    });
  }

  async readFeedback(options: C2dFeedbackReadOptions): Promise<C2dFeedbackRecord[]> {
    this.assertOpen();
    checkC2dFeedbackRead(options);
    // SQLite reads a negative LIMIT as "no limit"; the contract means "at most".
    if (options.limit <= 0) return [];
    return this.selectFeedback.all(options.fromSequenceNumber, options.limit).map(toFeedback);
  }

  async deleteFeedback(sequenceNumbers: readonly number[]): Promise<number> {
    this.assertOpen();
    checkC2dSequenceNumbers(sequenceNumbers);
    const unique = [...new Set(sequenceNumbers)];
    return this.submit(() => unique.reduce((n, s) => n + this.deleteFeedbackRow.run(s).changes, 0));
  }

  /** Commits the writes still queued (their callers are answered as usual), then closes the database. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.scheduled !== undefined) clearImmediate(this.scheduled);
      while (this.queue.length > 0) this.flush();
    } finally {
      this.db.close();
    }
  }

  private submit<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      this.scheduled ??= setImmediate(() => this.flush());
    });
  }

  /** Writes every queued call in one transaction, and answers their callers. */
  private flush(): void {
    this.scheduled = undefined;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    let outcomes: Outcome[];
    try {
      outcomes = this.commit.immediate(batch);
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    this.committed++;
    for (let i = 0; i < batch.length; i++) {
      const outcome = outcomes[i]!;
      if (outcome.ok) batch[i]!.resolve(outcome.value);
      else batch[i]!.reject(outcome.error);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("the c2d store is closed");
  }
}

function toMessage(row: MessageRow): C2dMessage {
  return {
    id: row.id,
    deviceId: row.device_id,
    deviceGenerationId: row.device_generation_id,
    sequenceNumber: row.sequence_number,
    enqueuedTime: row.enqueued_time,
    expiryTime: row.expiry_time,
    deliveryCount: row.delivery_count,
    lockToken: row.lock_token,
    lockedUntil: row.locked_until,
    body: row.body,
    properties: JSON.parse(row.properties) as Record<string, string>,
    systemProperties: JSON.parse(row.system_properties) as C2dSystemProperties,
  };
}

function toFeedback(row: FeedbackRow): C2dFeedbackRecord {
  return {
    sequenceNumber: row.sequence_number,
    originalMessageId: row.original_message_id,
    deviceId: row.device_id,
    deviceGenerationId: row.device_generation_id,
    enqueuedTimeUtc: row.enqueued_time,
    statusCode: row.status_code as C2dFeedbackStatus,
    description: row.description,
  };
}

function migrate(db: Database.Database): void {
  applyMigrations(db, { migrations: c2dMigrations, kind: "C2D", application: { id: C2D_APPLICATION_ID, label: "C2D store" } });
}
