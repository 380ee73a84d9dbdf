import type { LinkAddress } from "./link-address.js";
import type { LinkFactory } from "./link-handler.js";

/** The Event Hub-compatible endpoint: `$management` and partition receivers. */
export const EVENT_HUB_LINK_FACTORIES: Partial<Record<LinkAddress["kind"], LinkFactory>> = {};
