import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { ANONYMOUS_ROOT_FIELDS, rootFieldsRefusedToAnonymous } from './anonymous-allow-list.js';

const refused = (query: string, options: { operationName?: string; introspection?: boolean } = {}) =>
  rootFieldsRefusedToAnonymous(parse(query), options.operationName, {
    introspection: options.introspection ?? false,
  });

describe('the anonymous allow-list', () => {
  it('names signing in, refreshing and activating, nothing else', () => {
    expect(ANONYMOUS_ROOT_FIELDS).toEqual([
      'Mutation.login',
      'Mutation.refreshSession',
      'Mutation.activateAccount',
    ]);
    expect(Object.isFrozen(ANONYMOUS_ROOT_FIELDS)).toBe(true);
  });

  it.each([
    'mutation { login(input: {}) { accessToken } }',
    'mutation { refreshSession(refreshToken: "rt") { accessToken } activateAccount(input: {}) }',
    'mutation { __typename login(input: {}) { accessToken } }',
    '{ __typename }',
    'mutation { first: login(input: {}) { accessToken } second: login(input: {}) { accessToken } }',
  ])('allows %s', (query) => {
    expect(refused(query)).toEqual([]);
  });

  it.each([
    ['a query', '{ me { id } }', ['Query.me']],
    ['a mutation outside the list', 'mutation { logout }', ['Mutation.logout']],
    ['a query field named like an allowed mutation', '{ login }', ['Query.login']],
    ['a subscription', 'subscription { login }', ['Subscription.login']],
    ['an aliased field', 'mutation { login: createTenant(input: {}) { id } }', ['Mutation.createTenant']],
    [
      'a mix of allowed and refused fields',
      'mutation { login(input: {}) { accessToken } logout }',
      ['Mutation.logout'],
    ],
    [
      'a field in a fragment spread at the root',
      'mutation { ...F } fragment F on Mutation { createTenant(input: {}) { id } }',
      ['Mutation.createTenant'],
    ],
    [
      'a field in an inline fragment at the root',
      'mutation { ... on Mutation { login(input: {}) { accessToken } eraseUser(userId: "u") { id } } }',
      ['Mutation.eraseUser'],
    ],
    ['a field in an untyped inline fragment', '{ ... { tenants { id } } }', ['Query.tenants']],
    [
      'a field in fragments nested in fragments',
      'mutation { ...A } fragment A on Mutation { ... on Mutation { ...B } } fragment B on Mutation { revokeSession(id: "s") }',
      ['Mutation.revokeSession'],
    ],
    ['a field skipped by a directive', 'mutation { logout @skip(if: true) }', ['Mutation.logout']],
    ['a spread of an undefined fragment', 'mutation { ...Missing }', ['...Missing']],
  ])('refuses %s', (_, query, fields) => {
    expect(refused(query)).toEqual(fields);
  });

  it('survives fragment cycles (which validation would refuse anyway)', () => {
    expect(
      refused('{ ...A } fragment A on Query { ...B me { id } } fragment B on Query { ...A tenants { id } }'),
    ).toEqual(['Query.tenants', 'Query.me']);
  });

  it('checks the operation that will run, chosen by name', () => {
    const document = 'query Private { me { id } } mutation SignIn { login(input: {}) { accessToken } }';
    expect(refused(document, { operationName: 'SignIn' })).toEqual([]);
    expect(refused(document, { operationName: 'Private' })).toEqual(['Query.me']);
    expect(refused(document)).toEqual(['(no single operation)']);
    expect(refused(document, { operationName: 'Other' })).toEqual(['(no single operation)']);
  });

  it('opens introspection to anonymous callers only when told to (development)', () => {
    const introspection = '{ __schema { queryType { name } } __type(name: "Query") { name } }';
    expect(refused(introspection)).toEqual(['Query.__schema', 'Query.__type']);
    expect(refused(introspection, { introspection: true })).toEqual([]);
    expect(refused('{ __schema { types { name } } me { id } }', { introspection: true })).toEqual([
      'Query.me',
    ]);
  });
});
