import { buildSchema, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { ANONYMOUS, type Principal } from '@fleet/service-kit';
import { deniedFields } from './access-check.js';
import { accessRequirementsOf, enforceableSupergraph } from './supergraph-access.js';

const SDL = /* GraphQL */ `
  directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
  directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM

  type Query {
    public: String
    me: User @authenticated
    devices: [Device!]! @requiresScopes(scopes: [["devices:read"], ["platform:read"]])
    secrets: Vault
    node(id: ID!): Node
    both: String @requiresScopes(scopes: [["a", "b"]])
  }
  type Mutation {
    createDevice(name: String!): Device @requiresScopes(scopes: [["devices:write"]])
  }
  type User {
    id: ID!
    name: String
  }
  type Device implements Node {
    id: ID!
    name: String
    history: [String!]! @requiresScopes(scopes: [["audit:read"]])
  }
  type Vault @requiresScopes(scopes: [["platform:admin"]]) {
    key: String
  }
  interface Node {
    id: ID!
    history: [String!]!
  }
  type Invoice implements Node {
    id: ID!
    history: [String!]!
  }
`;

/** How a supergraph links the two features (parsed only: buildSchema needs no links). */
const LINKS = `extend schema
  @link(url: "https://specs.apollo.dev/authenticated/v0.1")
  @link(url: "https://specs.apollo.dev/requiresScopes/v0.1")
`;

const schema = buildSchema(SDL);
const requirements = accessRequirementsOf(parse(LINKS + SDL));

const user = (...scopes: string[]): Principal => ({
  kind: 'user',
  userId: 'u1',
  tenantId: 't1',
  roles: [],
  scopes,
  sessionId: 's1',
});

const denied = (query: string, principal: Principal, operationName?: string) =>
  deniedFields(schema, parse(query), operationName, requirements, principal);

describe('access requirements at the gateway', () => {
  it('lets anyone select fields without requirements', () => {
    expect(denied('{ public }', ANONYMOUS)).toEqual([]);
  });

  it('@authenticated: anyone signed in, never an anonymous caller', () => {
    expect(denied('{ me { id } }', ANONYMOUS)).toEqual(['Query.me']);
    expect(denied('{ me { id } }', user())).toEqual([]);
  });

  it('@requiresScopes: any one of the alternatives, each with all its scopes', () => {
    expect(denied('{ devices { id } }', user('devices:read'))).toEqual([]);
    expect(denied('{ devices { id } }', user('platform:read'))).toEqual([]);
    expect(denied('{ devices { id } }', user('tenant:read'))).toEqual(['Query.devices']);
    expect(denied('{ both }', user('a'))).toEqual(['Query.both']);
    expect(denied('{ both }', user('a', 'b'))).toEqual([]);
    const apiKey: Principal = { kind: 'apiKey', keyId: 'k', tenantId: 't1', scopes: ['devices:read'] };
    expect(denied('{ devices { id } }', apiKey)).toEqual([]);
  });

  it('checks nested fields, mutations and every denied field', () => {
    expect(denied('{ devices { id history } }', user('devices:read'))).toEqual(['Device.history']);
    expect(denied('mutation { createDevice(name: "r1") { id history } }', user('devices:read'))).toEqual([
      'Mutation.createDevice',
      'Device.history',
    ]);
  });

  it('a type that requires scopes guards every field returning it', () => {
    expect(denied('{ secrets { key } }', user('devices:read'))).toEqual(['Query.secrets']);
    expect(denied('{ secrets { key } }', user('platform:admin'))).toEqual([]);
  });

  it('sees through aliases and fragments, named, inline, nested and unused by the operation', () => {
    const viewer = user('devices:read');
    expect(denied('{ innocent: devices { harmless: history } }', viewer)).toEqual(['Device.history']);
    expect(
      denied('{ ...Q } fragment Q on Query { devices { ...D } } fragment D on Device { history }', viewer),
    ).toEqual(['Device.history']);
    expect(denied('{ devices { ... on Device { ... on Device { history } } } }', viewer)).toEqual([
      'Device.history',
    ]);
    // A document may hold several operations: only the one that runs is judged.
    const document = 'query A { public } query B { devices { history } }';
    expect(denied(document, viewer, 'A')).toEqual([]);
    expect(denied(document, viewer, 'B')).toEqual(['Device.history']);
  });

  it('on an interface, applies the requirements of every type that could stand behind it', () => {
    expect(denied('{ node(id: "1") { id history } }', user())).toEqual(['Device.history']);
    expect(denied('{ node(id: "1") { ... on Invoice { history } } }', user())).toEqual([]);
    expect(denied('{ node(id: "1") { ... on Device { history } } }', user())).toEqual(['Device.history']);
  });

  it('ignores directives of the same names when the supergraph does not link the features', () => {
    expect(accessRequirementsOf(parse(SDL)).fields.size).toBe(0);
  });

  it('a requirement it cannot read denies', () => {
    const broken = `type Query { odd: String @requiresScopes(scopes: "platform:admin") }`;
    const brokenRequirements = accessRequirementsOf(parse(LINKS + broken));
    const brokenSchema = buildSchema(
      `directive @requiresScopes(scopes: String) on FIELD_DEFINITION\n${broken}`,
    );
    expect(
      deniedFields(brokenSchema, parse('{ odd }'), undefined, brokenRequirements, user('platform:admin')),
    ).toEqual(['Query.odd']);
  });
});

describe('the supergraph Apollo loads', () => {
  const supergraph = `schema
  @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)
  @link(url: "https://specs.apollo.dev/authenticated/v0.1", for: SECURITY)
  @link(url: "https://specs.apollo.dev/requiresScopes/v0.1", as: "scopes", for: SECURITY)
  @link(url: "https://specs.apollo.dev/policy/v0.1", for: SECURITY)
{ query: Query }
type Query { a: String @authenticated b: String @scopes(scopes: [["x"]]) }`;

  it('loses the SECURITY purpose of the features the gateway enforces, and only of those', () => {
    const loaded = enforceableSupergraph(supergraph);
    expect(loaded).toContain('@link(url: "https://specs.apollo.dev/authenticated/v0.1")');
    expect(loaded).toContain('@link(url: "https://specs.apollo.dev/requiresScopes/v0.1", as: "scopes")');
    expect(loaded).toContain('@link(url: "https://specs.apollo.dev/policy/v0.1", for: SECURITY)');
    expect(loaded).toContain('for: EXECUTION');
  });

  it('reads requirements under the names the links give them', () => {
    const read = accessRequirementsOf(parse(supergraph));
    expect(read.fields.get('Query.a')).toEqual({ authenticated: true, scopes: [] });
    expect(read.fields.get('Query.b')).toEqual({ authenticated: false, scopes: [[['x']]] });
  });
});
