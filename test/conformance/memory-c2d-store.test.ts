import { MemoryC2dStore } from "../../src/storage/memory/memory-c2d-store.js";
import { c2dStoreConformance } from "./c2d-store.suite.js";

c2dStoreConformance("MemoryC2dStore", () => new MemoryC2dStore());
