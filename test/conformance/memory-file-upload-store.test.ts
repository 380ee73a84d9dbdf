import { MemoryFileUploadStore } from "../../src/storage/memory/memory-file-upload-store.js";
import { fileUploadStoreConformance } from "./file-upload-store.suite.js";

fileUploadStoreConformance("MemoryFileUploadStore", () => new MemoryFileUploadStore());
