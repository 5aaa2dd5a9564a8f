export { DEFAULT_ROUTER_NETWORKS, devicesConfigSpec, type DevicesConfig } from './config.js';
export { startDevices } from './devices-service.js';
