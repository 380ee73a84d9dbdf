import type { LogLevel } from "../config/config.js";
import type { Logger } from "../observability/logger.js";
import type { RunningHub, StartHubOptions } from "../app.js";

export interface Writer {
  write(text: string): unknown;
}

/** Where shutdown signals come from: the process, or an EventEmitter in tests. */
export interface SignalSource {
  on(signal: "SIGINT" | "SIGTERM", listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: "SIGINT" | "SIGTERM", listener: (signal: NodeJS.Signals) => void): unknown;
}

/** Everything the CLI touches outside itself, so tests run it in-process with fakes. */
export interface CliDeps {
  startHub(options: StartHubOptions): Promise<RunningHub>;
  stdout: Writer;
  stderr: Writer;
  signals: SignalSource;
  /** Ends the process at once; used only when a second signal arrives while the hub is still closing. */
  exit(code: number): void;
  createLogger(level: LogLevel): Logger;
}
