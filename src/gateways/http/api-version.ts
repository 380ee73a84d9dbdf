import { HubError } from "../../hub/index.js";

// IoT Hub dates its REST API versions; the oldest the current service still serves is 2016-11-14 and the SDKs send
// 2020-09-30 (generated layer) or 2021-04-12 (hand-written calls). Any dated version from then on, with or
// without a "-preview" suffix, is accepted so newer SDKs keep working.
const VERSION = /^(\d{4})-(\d{2})-(\d{2})(-preview)?$/;
const OLDEST = "2016-11-14";

/** Throws 400001 InvalidProtocolVersion unless the query string carries a supported api-version. */
export function checkApiVersion(value: unknown): void {
  if (typeof value !== "string" || value === "") {
    throw new HubError("InvalidProtocolVersion", { message: "The api-version query parameter is required, e.g. ?api-version=2021-04-12" });
  }
  const match = VERSION.exec(value);
  if (match === null || value.slice(0, 10) < OLDEST) {
    throw new HubError("InvalidProtocolVersion", { message: `api-version '${value}' is not supported; use a version such as 2021-04-12` });
  }
}
