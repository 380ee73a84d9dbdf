/**
 * The one place that loads @peculiar/x509: the Reflect metadata API its dependency tsyringe needs must be loaded
 * first (ESM evaluates imports in order), and the library must be told to use Node's WebCrypto. Import `x509`
 * from here, not from the package.
 */
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

// The library's types name the DOM `Crypto`, which this Node-only project does not load; Node's webcrypto is it.
x509.cryptoProvider.set(webcrypto as never);

export { x509 };
