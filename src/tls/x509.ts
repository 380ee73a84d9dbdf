/**
 * The one place that loads @peculiar/x509: the Reflect metadata API its dependency tsyringe needs must be loaded
 * first, and the library must be told to use Node's WebCrypto. Get it with `await loadX509()`, not from the package.
 *
 * It is loaded on first use, not with the hub: only making a certificate needs it (the first start, a renewal,
 * `malachite ca`), and loading it costs about 190 ms and 3.6 MB of heap (measured on Node 20), which every start of
 * the hub paid, and every garbage collection of its heap after that.
 */
import { webcrypto } from "node:crypto";

export type X509 = typeof import("@peculiar/x509");

let loaded: Promise<X509> | undefined;

export function loadX509(): Promise<X509> {
  loaded ??= (async () => {
    await import("reflect-metadata");
    const x509 = await import("@peculiar/x509");
    // The library's types name the DOM `Crypto`, which this Node-only project does not load; Node's webcrypto is it.
    x509.cryptoProvider.set(webcrypto as never);
    return x509;
  })();
  return loaded;
}
