import type { TestFederation } from './test-federation.js';

export interface RecordedEvent {
  position: string;
  aggregateId: string;
  type: string;
  tenantId: string | null;
  actor: { kind: string; id: string | null };
  payload: Record<string, unknown>;
}

/** Every event audit has recorded so far, read page by page as the platform administrator. */
export async function allAuditEvents(fleet: TestFederation): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  let after: string | null = null;
  for (;;) {
    const page: { data?: { auditEvents: RecordedEvent[] } | null; errors?: unknown } = await fleet.asAdmin<{
      auditEvents: RecordedEvent[];
    }>(
      `query($after: String) {
         auditEvents(afterPosition: $after, limit: 500) { position aggregateId type tenantId actor { kind id } payload }
       }`,
      { after },
    );
    if (!page.data) throw new Error(`could not read audit events: ${JSON.stringify(page.errors)}`);
    events.push(...page.data.auditEvents);
    if (page.data.auditEvents.length < 500) return events;
    after = page.data.auditEvents.at(-1)!.position;
  }
}
