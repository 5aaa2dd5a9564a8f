import type { TestFederation } from './test-federation.js';

export interface RecordedEvent {
  id: string;
  position: string;
  aggregateType: string;
  aggregateId: string;
  sequence: number;
  type: string;
  tenantId: string | null;
  actor: { kind: string; id: string | null };
  payload: Record<string, unknown>;
}

/** What auditEvents filters on (AuditEventFilter). */
export interface AuditEventFilter {
  actor?: { kind?: string; id?: string };
  tenantId?: string;
  entityType?: string;
  entityId?: string;
  type?: string;
  occurredFrom?: string;
  occurredTo?: string;
}

interface EventPage {
  auditEvents: {
    edges: { node: RecordedEvent }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

/**
 * Every event audit has recorded so far (or those the filter names), oldest first, read page by
 * page as the platform administrator.
 */
export async function allAuditEvents(
  fleet: TestFederation,
  filter: AuditEventFilter = {},
): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  let after: string | null = null;
  for (;;) {
    const page: { data?: EventPage | null; errors?: unknown } = await fleet.asAdmin<EventPage>(
      `query($filter: AuditEventFilter, $after: String) {
         auditEvents(filter: $filter, first: 200, after: $after, order: ASC) {
           edges { node { id position aggregateType aggregateId sequence type tenantId actor { kind id } payload } }
           pageInfo { hasNextPage endCursor }
         }
       }`,
      { filter, after },
    );
    if (!page.data) throw new Error(`could not read audit events: ${JSON.stringify(page.errors)}`);
    const { edges, pageInfo } = page.data.auditEvents;
    events.push(...edges.map((edge) => edge.node));
    if (!pageInfo.hasNextPage) return events;
    after = pageInfo.endCursor;
  }
}
