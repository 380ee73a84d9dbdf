import type { HubEvent } from "../../hub/index.js";
import { ConnectionDirectory } from "./connection-directory.js";
import type { ResourceLogQuery } from "./log-query.js";
import { renderRecords, resourceIdOf, type HubFacts, type ResourceLogRecord } from "./render-record.js";
import { ResourceLogWriter, type ResourceLogWriterOptions } from "./resource-log-writer.js";

export interface ResourceLogsOptions extends Omit<ResourceLogWriterOptions, "onError"> {
  readonly hubName: string;
  /** The record `location`; Azure writes the hub's lower-case region name (decision 0010: "local"). */
  readonly location?: string;
  readonly onError: (error: unknown, message: string) => void;
}

/** Malachite's stand-in for the region name Azure writes in `location` (there is no region). */
export const DEFAULT_LOCATION = "local";

/**
 * The hub's Azure Monitor resource logs: every hub event rendered as IoT Hub writes it, kept by a ResourceLogWriter.
 * `listener` goes on `hub.events`; it never throws and never waits.
 */
export class ResourceLogs {
  readonly #writer: ResourceLogWriter;
  readonly #facts: HubFacts;
  readonly #directory = new ConnectionDirectory();
  readonly #onError: (error: unknown, message: string) => void;

  private constructor(writer: ResourceLogWriter, options: ResourceLogsOptions) {
    this.#writer = writer;
    this.#onError = options.onError;
    this.#facts = {
      resourceId: resourceIdOf(options.hubName),
      location: options.location ?? DEFAULT_LOCATION,
      connection: (deviceId, moduleId) => this.#directory.lookup(deviceId, moduleId),
    };
  }

  static async open(options: ResourceLogsOptions): Promise<ResourceLogs> {
    return new ResourceLogs(await ResourceLogWriter.open(options), options);
  }

  readonly listener = (event: HubEvent): void => {
    try {
      const records = renderRecords(event, this.#facts);
      this.#directory.observe(event);
      if (records.length > 0) this.#writer.append(records);
    } catch (error) {
      this.#onError(error, "Cannot render a resource log record");
    }
  };

  query(query: ResourceLogQuery): Promise<ResourceLogRecord[]> {
    return this.#writer.query(query);
  }

  flush(): Promise<void> {
    return this.#writer.flush();
  }

  close(): Promise<void> {
    return this.#writer.close();
  }
}
