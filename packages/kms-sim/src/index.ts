/**
 * A local server speaking the AWS KMS JSON 1.1 protocol, for tests and benchmarks that drive the
 * real AWS SDK: symmetric keys, data keys, encryption contexts, rotation, and faults to switch on.
 */
export { startKmsSim, type KmsSim, type KmsSimOptions } from './kms-sim.js';
export type { KmsSimFaults } from './faults.js';
export { SIM_ACCOUNT, SIM_REGION } from './key-store.js';
