import { deny, rule, shield, type IRule, type IRules } from 'graphql-shield';
import { ForbiddenError } from '../errors/errors.js';
import { hasScopeIn } from './access-policy.js';
import type { Principal } from './principal.js';

type Args = Record<string, unknown>;

export interface AccessRules {
  /** Anyone with credentials: a person or an API key. */
  isSignedIn: IRule;
  /** The scope in the tenant an argument names (`tenantOf` reads it from the arguments). */
  scopeInArgument: (scope: string, tenantOf: (args: Args) => unknown) => IRule;
  /** The scope in the tenant of the object itself, whichever path reached it. */
  scopeInParent: <Parent>(scope: string, tenantOf: (parent: Parent) => unknown) => IRule;
}

/**
 * The graphql-shield rules every subgraph builds its authorization from, for a context from
 * which `principalOf` reads the principal the gateway signed.
 */
export function accessRules<Context>(principalOf: (context: Context) => Principal): AccessRules {
  return {
    isSignedIn: rule({ cache: 'contextual' })(
      (_parent, _args, context: Context) => principalOf(context).kind !== 'anonymous',
    ),
    scopeInArgument: (scope: string, tenantOf: (args: Args) => unknown) =>
      rule({ cache: 'no_cache' })((_parent, args: Args, context: Context) => {
        const tenantId = tenantOf(args);
        return typeof tenantId === 'string' && hasScopeIn(principalOf(context), scope, tenantId);
      }),
    scopeInParent: <Parent>(scope: string, tenantOf: (parent: Parent) => unknown) =>
      rule({ cache: 'no_cache' })((parent: Parent, _args, context: Context) => {
        const tenantId = tenantOf(parent);
        return typeof tenantId === 'string' && hasScopeIn(principalOf(context), scope, tenantId);
      }),
  };
}

/** `tenantId` among the arguments. */
export const tenantIdArgument = (args: Args): unknown => args.tenantId;

/** `input.tenantId` among the arguments. */
export const inputTenantArgument = (args: Args): unknown =>
  (args.input as { tenantId?: unknown } | undefined)?.tenantId;

/**
 * A subgraph's authorization over its whole schema: what the rules do not name is denied, and a
 * refusal is a FORBIDDEN that says nothing more.
 */
export function denyByDefault(rules: IRules): ReturnType<typeof shield> {
  return shield(rules, {
    fallbackRule: deny,
    fallbackError: () => new ForbiddenError(),
    allowExternalErrors: true,
    debug: false,
  });
}
