import { GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import { BadUserInputError } from '../errors/errors.js';

/** The `JSON` scalar of the subgraphs that have one: any JSON value, literal or variable. */
export const jsonScalar = new GraphQLScalarType({
  name: 'JSON',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: function literal(node: ValueNode): unknown {
    switch (node.kind) {
      case Kind.STRING:
      case Kind.BOOLEAN:
        return node.value;
      case Kind.INT:
      case Kind.FLOAT:
        return Number(node.value);
      case Kind.NULL:
        return null;
      case Kind.LIST:
        return node.values.map(literal);
      case Kind.OBJECT:
        return Object.fromEntries(node.fields.map((f) => [f.name.value, literal(f.value)]));
      default:
        throw new BadUserInputError('Variables are not accepted inside JSON literals', 'JSON');
    }
  },
});
