import { isDeepStrictEqual } from 'node:util';
import { buildSchema, execute, parse } from 'graphql';
import {
  IN_STOCK,
  PRODUCTS,
  REVIEWS,
  USER_REVIEWS,
  USERS,
  type Product,
  type Review,
  type User,
} from './guild-data.js';
import { GUILD_QUERY } from './guild-query.js';

/**
 * The answer a correct gateway gives to the Guild's query, worked out without federation: one
 * plain graphql-js schema over the same data, whose resolvers say what the four subgraphs
 * together mean (every author is user 1, every user has the first two reviews, no shipping
 * estimate is known).
 */
const PLAIN_SCHEMA = buildSchema(`
  type Query { users: [User] topProducts(first: Int = 5): [Product] }
  type User { id: ID! name: String username: String birthday: Int reviews: [Review] }
  type Review { id: ID! body: String product: Product author: User }
  type Product {
    upc: String! name: String price: Int weight: Int inStock: Boolean shippingEstimate: Int reviews: [Review]
  }
`);

const userOf = (user: User) => ({ ...user, reviews: () => USER_REVIEWS.map(reviewOf) });
const reviewOf = (review: Review) => ({
  id: review.id,
  body: review.body,
  product: () => productOf(PRODUCTS.find((product) => product.upc === review.productUpc)!),
  author: () => userOf(USERS[0]!),
});
const productOf = (product: Product) => ({
  ...product,
  inStock: IN_STOCK.get(product.upc) ?? null,
  shippingEstimate: null,
  reviews: () => REVIEWS.filter((review) => review.productUpc === product.upc).map(reviewOf),
});

export async function expectedAnswer(): Promise<unknown> {
  const result = await execute({
    schema: PLAIN_SCHEMA,
    document: parse(GUILD_QUERY),
    rootValue: {
      users: () => USERS.map(userOf),
      topProducts: ({ first }: { first: number }) => PRODUCTS.slice(0, first).map(productOf),
    },
  });
  if (result.errors) throw new Error(`The plain schema refused the query: ${result.errors[0]!.message}`);
  // As JSON carries it: no prototypes, no undefined.
  return JSON.parse(JSON.stringify(result)) as unknown;
}

/** Throws unless a gateway's answer (its JSON text) is exactly the expected one. */
export function checkAnswer(gateway: string, text: string, expected: unknown): void {
  const answer = JSON.parse(text) as unknown;
  if (!isDeepStrictEqual(answer, expected)) {
    throw new Error(`${gateway} answered something else than expected: ${text.slice(0, 500)}`);
  }
}
