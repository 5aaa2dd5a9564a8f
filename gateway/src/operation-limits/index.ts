export {
  checkCost,
  operationLimitConfigSpec,
  operationLimitsRule,
  type OperationLimitConfig,
} from './operation-limits.js';
export { operationShape, type OperationShape } from './operation-shape.js';
