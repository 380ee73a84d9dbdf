/** The built-in Event Hub-compatible endpoint: entity, partitions, consumer groups, start positions, epochs, retention. */
export {
  EventHubEndpoint,
  EVENT_HUB_CREATED_AT_SETTING,
  DEFAULT_RETENTION_MS,
  MIN_RETENTION_MS,
  MAX_RETENTION_MS,
  RETENTION_SWEEP_MS,
  MAX_NON_EPOCH_RECEIVERS,
  type EventHubDeps,
  type EventHubProperties,
  type PartitionProperties,
  type OpenReaderInput,
  type ReceiverClaim,
} from "./event-hub.js";
export { ConsumerGroups, CONSUMER_GROUPS_SETTING, DEFAULT_CONSUMER_GROUP, MAX_CONSUMER_GROUPS } from "./consumer-groups.js";
export {
  OFFSET_STRIDE,
  offsetOf,
  parseEventPosition,
  resolveStartSequenceNumber,
  enqueuedTimeFinder,
  type EventPosition,
  type FindByEnqueuedTime,
} from "./event-position.js";
export { PartitionReader, TelemetryFollowers, type PartitionReaderOptions } from "./partition-reader.js";
