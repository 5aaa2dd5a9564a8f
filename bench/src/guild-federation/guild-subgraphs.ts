import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/index.js';
import type { GraphQLSchema } from 'graphql';
import {
  AUTHOR,
  ENTITY_USERNAME,
  IN_STOCK,
  PRODUCTS,
  REVIEWS,
  shippingEstimate,
  USER_REVIEWS,
  USERS,
  type Review,
} from './guild-data.js';
import { guildSchema, type GuildSubgraph } from './guild-schemas.js';

const reviewsOf = (upc: string): Review[] => REVIEWS.filter((review) => review.productUpc === upc);

/** What each subgraph's resolvers do, as the reference's Rust subgraphs do it. */
const RESOLVERS: Record<GuildSubgraph, GraphQLResolverMap<unknown>> = {
  accounts: {
    Query: {
      me: () => USERS[0],
      user: (_: unknown, { id }: { id: string }) => USERS.find((user) => user.id === id) ?? null,
      users: () => USERS,
    },
    User: {
      __resolveReference: ({ id }: { id: string }) => USERS.find((user) => user.id === id),
    },
  },
  inventory: {
    Product: {
      // The inventory's own record: the price and weight the gateway sent are not read.
      __resolveReference: ({ upc }: { upc: string }) => ({ upc, inStock: IN_STOCK.get(upc) ?? null }),
      shippingEstimate: () => shippingEstimate(null, null),
    },
  },
  products: {
    Query: {
      topProducts: (_: unknown, { first }: { first?: number | null }) => PRODUCTS.slice(0, first ?? 5),
    },
    Product: {
      __resolveReference: ({ upc }: { upc: string }) => PRODUCTS.find((product) => product.upc === upc),
    },
  },
  reviews: {
    Review: {
      __resolveReference: ({ id }: { id: string }) => REVIEWS.find((review) => review.id === id),
      product: (review: Review) => ({ upc: review.productUpc }),
      author: () => ({ ...AUTHOR, reviews: USER_REVIEWS }),
    },
    User: {
      __resolveReference: ({ id }: { id: string }) => ({
        id,
        username: ENTITY_USERNAME,
        reviews: USER_REVIEWS,
      }),
    },
    Product: {
      __resolveReference: ({ upc }: { upc: string }) => ({ upc }),
      reviews: ({ upc }: { upc: string }) => reviewsOf(upc),
    },
  },
};

/** A subgraph's executable schema: its SDL and its resolvers, through Apollo's subgraph library. */
export function guildSubgraphSchema(name: GuildSubgraph): GraphQLSchema {
  return buildSubgraphSchema({ typeDefs: guildSchema(name), resolvers: RESOLVERS[name] });
}
