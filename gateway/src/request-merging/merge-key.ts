import { createHash } from 'node:crypto';
import { canonicalJson } from '@fleet/request-signing';
import { encodePrincipal } from '@fleet/service-kit';
import {
  Kind,
  OperationTypeNode,
  visit,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import type { GatewayContext } from '../gateway-context.js';
import { DocumentMemo } from '../documents/document-memo.js';

/** What identifies a request for merging: all of it must be equal for two requests to merge. */
export interface MergeableRequest {
  /** The schema the request was validated and authorized against. */
  schema: GraphQLSchema;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  /** SHA-256 of the document's text (the hash APQ and trusted documents use). */
  queryHash: string;
  operationName: string | null;
  variables: Record<string, unknown> | undefined;
  context: GatewayContext;
}

/** Directives whose answers arrive in parts: such an operation is never shared. */
const INCREMENTAL_DIRECTIVES: readonly string[] = ['defer', 'stream'];

const schemaIds = new WeakMap<GraphQLSchema, number>();
let nextSchemaId = 0;
const trustedDocumentIds = new WeakMap<ReadonlySet<string>, string>();

/**
 * The key under which identical requests share one execution, or null for a request that never
 * shares: anything but a query, or a query with incremental delivery. The key holds the
 * authorization scope in full: the principal exactly as the subgraphs receive it (user, session,
 * tenant, roles and scopes, or the API key and its scopes, or anonymous), the trusted-documents
 * restriction and the client's address (signed into subgraph calls too). Then the schema, the
 * document's hash, the operation's name and the variables as canonical JSON.
 */
export function mergeKeyOf(request: MergeableRequest): string | null {
  if (request.operation.operation !== OperationTypeNode.QUERY) return null;
  if (usesIncrementalDelivery(request.document)) return null;
  const { context } = request;
  return canonicalJson([
    encodePrincipal(context.principal),
    trustedDocumentsId(context.trustedDocuments),
    context.clientAddress,
    schemaId(request.schema),
    request.queryHash,
    request.operationName,
    request.variables ?? {},
  ]);
}

/** Per document: whether it asks for incremental delivery anywhere. */
const incremental = new DocumentMemo<boolean>();

function usesIncrementalDelivery(document: DocumentNode): boolean {
  return incremental.get([document], '', () => readsIncrementalDirectives(document));
}

function readsIncrementalDirectives(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    [Kind.DIRECTIVE]: (directive) => {
      if (INCREMENTAL_DIRECTIVES.includes(directive.name.value)) found = true;
    },
  });
  return found;
}

function schemaId(schema: GraphQLSchema): number {
  let id = schemaIds.get(schema);
  if (id === undefined) {
    id = nextSchemaId++;
    schemaIds.set(schema, id);
  }
  return id;
}

/** The restriction's own identity: its digests, sorted and hashed once per set. */
function trustedDocumentsId(trusted: ReadonlySet<string> | null): string {
  if (trusted === null) return 'unrestricted';
  let id = trustedDocumentIds.get(trusted);
  if (id === undefined) {
    id = createHash('sha256')
      .update([...trusted].sort().join(','))
      .digest('hex');
    trustedDocumentIds.set(trusted, id);
  }
  return id;
}
