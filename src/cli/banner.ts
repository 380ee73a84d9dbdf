import type { RunningHub } from "../app.js";

/** How to reach a listener on `bind`: IPv6 literals need brackets next to a port. */
function address(bind: string, port: number): string {
  return bind.includes(":") ? `[${bind}]:${port}` : `${bind}:${port}`;
}

function listener(label: string, bind: string, port: number | null | undefined): string {
  const where = port === null || port === undefined ? "not available in this build" : address(bind, port);
  return `  ${label.padEnd(17)}${where}\n`;
}

/** The tier the hub enforces, and how to change it: S1 by default, as a new IoT Hub is (decision 0011). */
function tierLine(tier: string, units: number | undefined): string {
  if (tier === "none") return "  Tier             none: no quota or throttles beyond --limit (--tier S1 for IoT Hub's)\n";
  const count = units ?? 1;
  return `  Tier             ${tier}, ${count} unit${count === 1 ? "" : "s"}: IoT Hub's daily quota and throttles (--tier none to lift them)\n`;
}

/** What a user needs to connect right away, printed once the hub accepts connections. */
export function formatBanner(hub: RunningHub, bind: string, tier: { readonly tier: string; readonly units: number | undefined }): string {
  const owner = hub.connectionStrings["iothubowner"];
  const ports = hub.ports as { https: number; mqtt: number | null; amqp: number | null };
  let text = `Malachite IoT hub "${hub.hubName}" is running, host name ${hub.hostName}\n\n`;
  text += listener("HTTPS/WebSocket", bind, ports.https);
  text += listener("MQTT over TLS", bind, ports.mqtt);
  text += listener("AMQP over TLS", bind, ports.amqp);
  // Only when enabled: the metrics listener is off by default, and "not available" would read as a missing feature.
  if (hub.ports.metrics !== undefined) text += `  ${"Metrics".padEnd(17)}http://${address(bind, hub.ports.metrics)}/metrics\n`;
  text += tierLine(tier.tier, tier.units);
  if (ports.https !== 443) {
    // The SDKs hard-code 443 for HTTPS and WebSocket transports; say so before users chase a connection error.
    text += "  (the Azure IoT SDKs use port 443 for HTTPS and WebSocket transports)\n";
  }
  text += "\nOwner connection string (policy iothubowner):\n";
  text += `  ${owner ?? "(no iothubowner policy; see hub.json)"}\n`;
  text += "\nTrust the hub's certificate authority in Node.js clients:\n";
  text += `  NODE_EXTRA_CA_CERTS=${hub.caCertificatePath}\n`;
  text += `\nConnection strings and ports for scripts: ${hub.hubJsonPath}\n`;
  text += "Press Ctrl+C to stop.\n";
  return text;
}
