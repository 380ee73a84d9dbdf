import { HubError } from "../errors/index.js";

/**
 * Every malformed or unsupported query is answered with 400 ArgumentInvalid (400004). The reference
 * (§1.9) leaves the exact ErrorCode uncertain and recommends ArgumentInvalid; the Node SDK maps any 400
 * to ArgumentError anyway, so what matters is a message that says what is wrong and where.
 */
export function queryError(message: string): HubError {
  return new HubError("ArgumentInvalid", { message });
}

/** `pos` is a 0-based offset into the query text; messages show it 1-based, as editors count columns. */
export function syntaxError(pos: number, message: string): HubError {
  return queryError(`Syntax error at position ${pos + 1}: ${message}`);
}

/** For queries that parse but mean something IoT Hub does not allow (e.g. a SELECT item not in GROUP BY). */
export function semanticError(pos: number, message: string): HubError {
  return queryError(`Invalid query at position ${pos + 1}: ${message}`);
}
