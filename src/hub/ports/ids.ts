/** Sources of random identifiers and keys, injected so tests can make them predictable. */
export interface Ids {
  /** 32 hex characters, as IoT Hub's tracking ids. */
  trackingId(): string;
  /** An 18-digit decimal string, as IoT Hub's generationId. */
  generationId(): string;
  /** A new base64 symmetric key (32 random bytes), as IoT Hub generates for devices, modules and policies. */
  symmetricKey(): string;
}
