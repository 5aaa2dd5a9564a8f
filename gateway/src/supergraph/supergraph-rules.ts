import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { parse, type GraphQLSchema } from 'graphql';
import { accessRequirementsOf, type AccessRequirements } from '../authorization/supergraph-access.js';
import { costHintsOf, type CostHints } from '../operation-limits/cost-hints.js';

/** What the gateway enforces from a supergraph beyond what Apollo plans with. */
export interface SupergraphRules {
  access: AccessRequirements;
  costs: CostHints;
}

/**
 * The rules of each supergraph the gateway has loaded, kept with the schema built from it: a
 * request is always judged by the rules of the schema it was validated against, even while a
 * new supergraph is being loaded.
 */
export class SupergraphRuleBook {
  readonly #bySchema = new WeakMap<GraphQLSchema, SupergraphRules>();

  /** Reads the rules of every supergraph as Apollo loads it. */
  plugin<Context extends BaseContext>(): ApolloServerPlugin<Context> {
    return {
      serverWillStart: () =>
        Promise.resolve({
          schemaDidLoadOrUpdate: ({ apiSchema, coreSupergraphSdl }) => {
            if (!coreSupergraphSdl) return;
            const document = parse(coreSupergraphSdl);
            this.#bySchema.set(apiSchema, {
              access: accessRequirementsOf(document),
              costs: costHintsOf(document),
            });
          },
        }),
    };
  }

  /** The rules of a loaded schema; undefined for a schema that did not come from a supergraph. */
  rulesOf(schema: GraphQLSchema): SupergraphRules | undefined {
    return this.#bySchema.get(schema);
  }
}
