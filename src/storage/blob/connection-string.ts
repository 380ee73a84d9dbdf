/** What file upload needs from an Azure Storage connection string: an account, its key and its blob endpoint. */
export interface StorageAccount {
  readonly accountName: string;
  readonly accountKey: string;
  /** The blob service URL, e.g. `https://acct.blob.core.windows.net` or a path-style `https://host:port/acct`, without a trailing slash. */
  readonly blobEndpoint: string;
}

export type ParsedConnectionString = { ok: true; account: StorageAccount } | { ok: false; reason: string };

/**
 * Parses an Azure Storage connection string (`DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…;
 * EndpointSuffix=core.windows.net`, or with `BlobEndpoint=https://…`). The hub signs SAS tokens with the account key,
 * so SAS-only connection strings are refused; and the device SDK always uploads over HTTPS, so an `http` blob
 * endpoint (such as `UseDevelopmentStorage=true`, Azurite's plain-HTTP default) is refused too. The reason never
 * quotes the key.
 */
export function parseStorageConnectionString(text: string): ParsedConnectionString {
  const fields = new Map<string, string>();
  const parts = text.split(";");
  for (let i = 0; i < parts.length; i++) {
    const trimmed = parts[i]!.trim();
    if (trimmed === "") continue;
    const eq = trimmed.indexOf("=");
    // Not quoted: a mangled pair may hold the key.
    if (eq <= 0) return { ok: false, reason: `part ${i + 1} is not a Name=Value pair` };
    fields.set(trimmed.slice(0, eq).toLowerCase(), trimmed.slice(eq + 1));
  }
  if (fields.get("usedevelopmentstorage")?.toLowerCase() === "true") {
    return { ok: false, reason: "UseDevelopmentStorage=true points at Azurite's plain-HTTP endpoint, but the device SDK uploads over HTTPS only; leave the option out to use the embedded Azurite, or give an HTTPS BlobEndpoint" };
  }
  const accountName = fields.get("accountname");
  const accountKey = fields.get("accountkey");
  if (accountName === undefined || accountName === "") return { ok: false, reason: "AccountName is missing" };
  if (accountKey === undefined || accountKey === "") {
    return { ok: false, reason: "AccountKey is missing (the hub signs the devices' SAS tokens with the account key; SAS connection strings cannot do that)" };
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(accountKey)) return { ok: false, reason: "AccountKey is not base64" };
  let blobEndpoint = fields.get("blobendpoint");
  if (blobEndpoint === undefined || blobEndpoint === "") {
    const protocol = (fields.get("defaultendpointsprotocol") ?? "https").toLowerCase();
    const suffix = fields.get("endpointsuffix") ?? "core.windows.net";
    blobEndpoint = `${protocol}://${accountName}.blob.${suffix}`;
  }
  let url: URL;
  try {
    url = new URL(blobEndpoint);
  } catch {
    return { ok: false, reason: `the blob endpoint "${blobEndpoint}" is not a URL` };
  }
  if (url.protocol !== "https:") return { ok: false, reason: `the blob endpoint "${blobEndpoint}" is not HTTPS (the device SDK uploads over HTTPS only)` };
  if (url.search !== "" || url.hash !== "") return { ok: false, reason: `the blob endpoint "${blobEndpoint}" must not have a query or fragment` };
  return { ok: true, account: { accountName, accountKey, blobEndpoint: `${url.origin}${url.pathname.replace(/\/+$/, "")}` } };
}

/** A container name as Azure Storage allows it: 3-63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit. */
export function isValidContainerName(name: string): boolean {
  return /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(name);
}
