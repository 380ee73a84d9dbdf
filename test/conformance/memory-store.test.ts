import { MemoryStore } from "../../src/storage/memory/memory-store.js";
import { storeConformance } from "./store.suite.js";

storeConformance("MemoryStore", () => new MemoryStore());
