/**
 * Device identities a test file creates on first use, through the official service SDK's `Registry`, with the
 * primary key IoT Hub generated for each: `await keys.of(id)` creates `id` once and answers its key.
 * `registry` is read at each call, so a file can create the helper before its `before()` has made the Registry.
 */
export function deviceKeys(registry: () => { create(device: { deviceId: string }): Promise<any> }): { of(id: string): Promise<string> } {
  const keys = new Map<string, Promise<string>>();
  return {
    of(id) {
      let key = keys.get(id);
      if (key === undefined) {
        key = registry()
          .create({ deviceId: id })
          .then((created: any) => created.responseBody.authentication.symmetricKey.primaryKey as string);
        keys.set(id, key);
      }
      return key;
    },
  };
}
