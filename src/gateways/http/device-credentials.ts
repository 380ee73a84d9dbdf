import type { TLSSocket } from "node:tls";
import type { FastifyRequest } from "fastify";
import { isHubError, renderConnectionAuthMethod, type CallContext, type Hub, type TelemetryCredential } from "../../hub/index.js";
import { peerChain } from "../../shared/peer-chain.js";

/** One authenticated device API call: its call context and the credential its telemetry is stamped with. */
export interface DeviceCall {
  readonly ctx: CallContext;
  readonly credential: TelemetryCredential;
}

/**
 * Authenticates a device API request as the identity its path names (`/devices/{id}[/modules/{mid}]/…`): with the
 * `Authorization: SharedAccessSignature …` header (the identity's key, or a DeviceConnect policy's with `skn`), or
 * without one, with the TLS client certificate. So a caller can only reach its own paths: another identity's path
 * needs that identity's credentials (401), and an identity that does not exist is 404 DeviceNotFound/ModuleNotFound.
 * HTTPS is connectionless, so nothing is registered with presence. A refusal is recorded as `connectionRefused`.
 */
export async function authenticateDeviceRequest(hub: Hub, request: FastifyRequest, identity: { deviceId: string; moduleId: string }): Promise<DeviceCall> {
  const raw = request.headers.authorization;
  const authorization = Array.isArray(raw) ? raw[0] : raw;
  // The HTTP device SDK sends its user agent in User-Agent; IoT Hub logs it as sdkVersion (monitoring.md §2.1).
  const client = { ipAddress: request.ip, sdkVersion: request.headers["user-agent"] };
  try {
    const auth =
      authorization !== undefined
        ? await hub.deviceAuth.authenticateSas(identity, authorization, request.trackingId)
        : await hub.deviceAuth.authenticateX509(identity, peerChain(request.raw.socket as TLSSocket), request.trackingId);
    const ctx: CallContext = { caller: auth.caller, protocol: "https", trackingId: request.trackingId, client };
    // Each HTTPS request is its own "connection": connect fault rules (refuseConnect: 503, drop, delay) apply here.
    await hub.faults.enter(ctx, "connect");
    return {
      ctx,
      credential: { authMethod: renderConnectionAuthMethod(auth.authMethod), generationId: auth.generationId },
    };
  } catch (error) {
    if (isHubError(error)) {
      hub.events.emit({ type: "connectionRefused", time: hub.clock.now(), deviceId: identity.deviceId, moduleId: identity.moduleId, protocol: "https", error: error.errorName, ...client });
    }
    throw error;
  }
}
