import { buildSchema, Kind, parse, type FragmentDefinitionNode, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { costHintsOf, type CostHints } from './cost-hints.js';
import { operationShape } from './operation-shape.js';

const schema = buildSchema(`
  type Query { me: User, users(first: Int): [User!]! }
  type Mutation { rename(name: String!): User }
  type User { id: ID!, name: String, friends(limit: Int): [User!]! }
`);

function shape(source: string, variables?: Record<string, unknown>, maxFields = 10_000, hints?: CostHints) {
  const document = parse(source);
  const operation = document.definitions.find(
    (d) => d.kind === Kind.OPERATION_DEFINITION,
  ) as OperationDefinitionNode;
  const fragments = new Map(
    document.definitions
      .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
      .map((d) => [d.name.value, d]),
  );
  return operationShape(schema, operation, fragments, {
    defaultListSize: 50,
    variables,
    ceiling: 1_000,
    maxFields,
    hints,
  });
}

describe('the shape of an operation', () => {
  it('counts depth, aliases, root fields and directives with fragments expanded', () => {
    const result = shape(`
      query { a: me { ...F ...F } b: me { id @include(if: true) } }
      fragment F on User { x: id friends(limit: 2) { y: id } }`);
    expect(result).toMatchObject({ depth: 3, aliases: 6, rootFields: 2, directives: 1 });
  });

  it('takes list sizes and weights from the supergraph’s @listSize and @cost', () => {
    const hints = costHintsOf(
      parse(`
        extend schema @link(url: "https://specs.apollo.dev/cost/v0.1", import: ["@listSize", "@cost"])
        type Query {
          users(first: Int, take: Int): [User!]! @listSize(slicingArguments: ["take"], assumedSize: 7)
          me: User @cost(weight: 5)
        }
        type User { id: ID! friends(limit: Int): [User!]! @listSize(assumedSize: 3) name: String @cost(weight: 0) }
      `),
    );
    expect(shape('{ users { id } }', undefined, 10_000, hints).cost).toBe(1 + 7);
    // The schema's slicing arguments replace the usual names.
    expect(shape('{ users(take: 2) { id } }', undefined, 10_000, hints).cost).toBe(1 + 2);
    expect(shape('{ users(first: 2) { id } }', undefined, 10_000, hints).cost).toBe(1 + 7);
    // A size argument still wins over an assumed size.
    expect(shape('{ me { friends(limit: 10) { id } } }', undefined, 10_000, hints).cost).toBe(5 + 1 + 10);
    expect(shape('{ me { friends { id } } }', undefined, 10_000, hints).cost).toBe(5 + 1 + 3);
    // No field costs less than 1, and no list counts as smaller than 1: the field bound of the
    // walk stays a cost bound.
    expect(shape('{ me { name } }', undefined, 10_000, hints).cost).toBe(5 + 1);
    expect(shape('{ users(take: 0) { id } }', undefined, 10_000, hints).cost).toBe(1 + 1);
  });

  it('sizes a connection’s edges by its own slicing argument, or that argument’s default', () => {
    const source = `
      extend schema @link(url: "https://specs.apollo.dev/cost/v0.1", import: ["@listSize"])
      type Query {
        events(first: Int = 20, after: String): EventConnection!
          @listSize(slicingArguments: ["first"], sizedFields: ["edges"], requireOneSlicingArgument: false)
      }
      type EventConnection { edges: [Edge!]! pageInfo: PageInfo! }
      type Edge { cursor: String! node: Event! }
      type Event { id: ID! tags: [String!]! }
      type PageInfo { hasNextPage: Boolean! }
    `;
    const connectionSchema = buildSchema(
      source.replace(/@listSize\([^)]*\)/, '').replace(/^\s*extend schema.*$/m, ''),
    );
    const hints = costHintsOf(parse(source));
    const cost = (query: string, variables?: Record<string, unknown>) => {
      const document = parse(query);
      return operationShape(connectionSchema, document.definitions[0] as OperationDefinitionNode, new Map(), {
        defaultListSize: 50,
        variables,
        ceiling: 1_000,
        maxFields: 100_000,
        hints,
      }).cost;
    };
    // events 1, edges 1, pageInfo 1 and hasNextPage 1; then cursor, node and id once per edge.
    expect(cost('{ events(first: 500) { edges { cursor node { id } } pageInfo { hasNextPage } } }')).toBe(
      1 + 1 + 500 * 3 + 1 + 1,
    );
    expect(cost('query($n: Int) { events(first: $n) { edges { node { id } } } }', { n: 3 })).toBe(
      1 + 1 + 3 * 2,
    );
    // No argument: the schema's default for it, not the general default of 50.
    expect(cost('{ events { edges { node { id } } } }')).toBe(1 + 1 + 20 * 2);
    // Only the named fields take the connection's size.
    expect(cost('{ events(first: 2) { edges { node { tags } } pageInfo { hasNextPage } } }')).toBe(
      1 + 1 + 2 * 2 + 1 + 1,
    );
  });

  it('multiplies cost by list sizes from literals, variables and the default', () => {
    expect(shape('{ users(first: 10) { friends(limit: 3) { id } } }').cost).toBe(1 + 10 + 30);
    expect(shape('query($n: Int) { users(first: $n) { id } }', { n: 4 }).cost).toBe(1 + 4);
    expect(shape('{ users { id } }').cost).toBe(1 + 50);
    expect(shape('mutation { rename(name: "x") { id } }').cost).toBe(11 + 1);
  });

  it('ends on a fragment cycle, and stops an expansion bomb at the field ceiling', () => {
    expect(shape('{ me { ...A } } fragment A on User { friends { ...A } }').depth).toBeGreaterThan(1);
    const levels = Array.from(
      { length: 30 },
      (_, i) => `fragment F${i} on User { friends { ...F${i + 1} ...F${i + 1} } }`,
    );
    const bomb = `{ me { ...F0 } } ${levels.join(' ')} fragment F30 on User { id }`;
    // 2^30 fields as written: the walk stops just past the ceiling, where the cost limit refuses it.
    const result = shape(bomb, undefined, 5_000);
    expect(result.fields).toBe(5_001);
    expect(result.cost).toBeGreaterThan(5_000);
  });
});
