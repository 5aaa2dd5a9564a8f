export { aaaConfigSpec, type AaaConfig } from './config.js';
export { startAaa } from './aaa-service.js';
export type { InitialAdmin } from './bootstrap/first-admin.js';
