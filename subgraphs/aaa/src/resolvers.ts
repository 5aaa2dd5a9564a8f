import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/index.js';
import type { SignedRequest } from '@fleet/service-kit';
import type { TenantDirectory, TenantRow, UserRow } from './tenants/tenant-directory.js';

export interface AaaContext {
  directory: TenantDirectory;
  request: SignedRequest;
}

const tenantOut = (t: TenantRow) => ({
  id: t.id,
  name: t.name,
  slug: t.slug,
  createdAt: t.created_at.toISOString(),
});
const userOut = (u: UserRow) => ({ id: u.id, tenantId: u.tenant_id, createdAt: u.created_at.toISOString() });

export const resolvers: GraphQLResolverMap<AaaContext> = {
  Query: {
    tenant: async (_: unknown, args: { id: string }, { directory }: AaaContext) => {
      const tenant = await directory.getTenant(args.id);
      return tenant ? tenantOut(tenant) : null;
    },
    tenants: async (_: unknown, __: unknown, { directory }: AaaContext) =>
      (await directory.listTenants()).map(tenantOut),
    user: async (_: unknown, args: { id: string }, { directory }: AaaContext) => {
      const user = await directory.getUser(args.id);
      return user ? userOut(user) : null;
    },
  },
  Mutation: {
    createTenant: async (_: unknown, args: { input: { name: string; slug: string } }, ctx: AaaContext) =>
      tenantOut(await ctx.directory.createTenant(args.input, ctx.request.principal)),
    createUser: async (_: unknown, args: { tenantId: string }, ctx: AaaContext) =>
      userOut(await ctx.directory.createUser(args.tenantId, ctx.request.principal)),
  },
  Tenant: {
    __resolveReference: async (reference: { id: string }, { directory }: AaaContext) => {
      const tenant = await directory.getTenant(reference.id);
      return tenant ? tenantOut(tenant) : null;
    },
    users: async (tenant: { id: string }, _: unknown, { directory }: AaaContext) =>
      (await directory.listUsers(tenant.id)).map(userOut),
  },
  User: {
    __resolveReference: async (reference: { id: string }, { directory }: AaaContext) => {
      const user = await directory.getUser(reference.id);
      return user ? userOut(user) : null;
    },
    tenant: async (user: { tenantId: string }, _: unknown, { directory }: AaaContext) => {
      const tenant = await directory.getTenant(user.tenantId);
      return tenant ? tenantOut(tenant) : null;
    },
  },
};
