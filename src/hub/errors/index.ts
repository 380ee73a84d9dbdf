export { HUB_ERRORS, isHubErrorName, type ErrorSpec, type HubErrorName } from "./catalog.js";
export { HubError, isHubError, type HubErrorOptions } from "./hub-error.js";
