/** The four permissions of IoT Hub shared access policies, spelled as ARM and the CLI spell them. */
export const RIGHTS = ["RegistryRead", "RegistryWrite", "ServiceConnect", "DeviceConnect"] as const;
export type Right = (typeof RIGHTS)[number];

export interface SharedAccessPolicy {
  readonly keyName: string;
  readonly primaryKey: string;
  readonly secondaryKey: string;
  readonly rights: readonly Right[];
}

/** The policies every IoT hub is created with, and their rights (Learn: "Control access to IoT Hub"). */
export const BUILT_IN_POLICIES: ReadonlyArray<{ readonly keyName: string; readonly rights: readonly Right[] }> = [
  { keyName: "iothubowner", rights: ["RegistryRead", "RegistryWrite", "ServiceConnect", "DeviceConnect"] },
  { keyName: "service", rights: ["ServiceConnect"] },
  { keyName: "device", rights: ["DeviceConnect"] },
  { keyName: "registryRead", rights: ["RegistryRead"] },
  { keyName: "registryReadWrite", rights: ["RegistryRead", "RegistryWrite"] },
];
