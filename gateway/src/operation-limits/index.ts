export { costHintsOf, NO_COST_HINTS, type CostHints, type ListSizeHint } from './cost-hints.js';
export {
  checkCost,
  operationLimitConfigSpec,
  operationLimitsRule,
  type OperationLimitConfig,
} from './operation-limits.js';
export { withLimitCode } from './limit-codes.js';
export { operationShape, type OperationShape } from './operation-shape.js';
