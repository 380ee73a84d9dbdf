import type { LinkAddress } from "./link-address.js";
import type { LinkFactory } from "./link-handler.js";

/** The back-end links of `azure-iothub`'s Client: C2D send, feedback and file notifications. */
export const SERVICE_LINK_FACTORIES: Partial<Record<LinkAddress["kind"], LinkFactory>> = {};
