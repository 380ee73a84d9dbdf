import deviceSdk from "azure-iot-device";
import mqttSdk from "azure-iot-device-mqtt";
import amqpSdk from "azure-iot-device-amqp";
import type { RunningHub } from "../../../src/app.js";

export type Transport = "Mqtt" | "MqttWs" | "Amqp" | "AmqpWs";

function transportOf(transport: Transport): any {
  return transport === "Amqp" || transport === "AmqpWs" ? amqpSdk[transport] : mqttSdk[transport];
}

/** The connection string of a device or module with the given key, as the portal shows it. */
export function deviceConnectionString(hub: RunningHub, deviceId: string, key: string, moduleId?: string): string {
  return `HostName=${hub.hostName};DeviceId=${deviceId};${moduleId === undefined ? "" : `ModuleId=${moduleId};`}SharedAccessKey=${key}`;
}

/** An official device SDK client over the chosen transport. */
export function deviceClient(hub: RunningHub, deviceId: string, key: string, transport: Transport = "Mqtt"): InstanceType<typeof deviceSdk.Client> {
  return deviceSdk.Client.fromConnectionString(deviceConnectionString(hub, deviceId, key), transportOf(transport));
}

export function moduleClient(hub: RunningHub, deviceId: string, moduleId: string, key: string, transport: Transport = "Mqtt"): InstanceType<typeof deviceSdk.ModuleClient> {
  return deviceSdk.ModuleClient.fromConnectionString(deviceConnectionString(hub, deviceId, key, moduleId), transportOf(transport));
}
