/**
 * The RouterOS API simulator: many simulated routers in one process, each with a plain API and an
 * API-SSL listener, speaking the real wire protocol, with a menu model and faults to switch on.
 */
export { startSimulator, type InventoryEntry, type Simulator, type SimulatorOptions } from './simulator.js';
export type { RouterSpec, SimulatedRouter } from './router.js';
export { noFaults, type FaultState } from './faults/fault-state.js';
export { VERSIONS, DEFAULT_VERSION } from './protocol/versions.js';
