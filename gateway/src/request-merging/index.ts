export { mergingExecutor, mergingGateway, ownCopy, type GatewayExecutor } from './merging-gateway.js';
export { InFlightExecutions, type Joined, type Participant } from './in-flight-executions.js';
export { mergeKeyOf, type MergeableRequest } from './merge-key.js';
export { stringifyResult } from './shared-serialization.js';
