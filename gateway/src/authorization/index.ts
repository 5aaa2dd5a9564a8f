export { deniedFields, satisfies } from './access-check.js';
export { accessRefusal, authorizationPlugin } from './authorization-plugin.js';
export {
  accessRequirementsOf,
  enforceableSupergraph,
  type AccessRequirement,
  type AccessRequirements,
} from './supergraph-access.js';
