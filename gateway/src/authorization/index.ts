export { deniedFields, satisfies } from './access-check.js';
export { authorizationPlugin } from './authorization-plugin.js';
export {
  accessRequirementsOf,
  enforceableSupergraph,
  type AccessRequirement,
  type AccessRequirements,
} from './supergraph-access.js';
