/** Identity etag as IoT Hub renders it: base64 of a decimal counter (observed e.g. "MzE4NzUxOTU1"). */
export function identityEtag(version: number): string {
  return Buffer.from(String(version)).toString("base64");
}

/** Strips one pair of quotes and a weak-validator prefix: the SDK quotes every If-Match, including "*". */
export function normalizeEtag(header: string): string {
  let value = header.trim();
  if (value.startsWith("W/")) value = value.slice(2);
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
  return value;
}

/** Does an If-Match value (raw header, possibly quoted or "*") accept the current etag? Undefined header accepts. */
export function etagMatches(ifMatch: string | undefined, current: string): boolean {
  if (ifMatch === undefined) return true;
  const wanted = normalizeEtag(ifMatch);
  return wanted === "*" || wanted === current;
}

export function isWildcard(ifMatch: string | undefined): boolean {
  return ifMatch !== undefined && normalizeEtag(ifMatch) === "*";
}
