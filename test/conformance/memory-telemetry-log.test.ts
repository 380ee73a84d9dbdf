import { MemoryTelemetryLog } from "../../src/storage/memory/memory-telemetry-log.js";
import { telemetryLogConformance } from "./telemetry-log.suite.js";

telemetryLogConformance("MemoryTelemetryLog", () => new MemoryTelemetryLog());
