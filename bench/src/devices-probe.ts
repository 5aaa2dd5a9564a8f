import { randomUUID } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import { signSubscription, SUBSCRIPTION_SIGNATURE_EXTENSION } from '@fleet/request-signing';
import { encodePrincipal, signedWebSocket, type MutualTls } from '@fleet/service-kit';

/**
 * A subscriber of each tenant's statuses straight on the devices subgraph, as the gateway
 * subscribes there (over mutual TLS with the gateway's certificate, the upgrade signed with the
 * gateway/devices key and no principal, each subscription signed for its own principal): when it
 * receives an event tells how much of a delivery's latency is the subgraph's, before the gateway
 * has it.
 */
export class DevicesProbe {
  readonly #client: Client;
  /** Wall-clock receipt (ms since the epoch) of each `deviceId checkedAt` while recording. */
  readonly receipts = new Map<string, number>();
  #recording = false;
  errors = 0;

  constructor(devicesUrl: string, key: Buffer, tls: MutualTls, query: string, tenantIds: readonly string[]) {
    this.#client = createClient({
      url: devicesUrl.replace(/^http/, 'ws') + '/graphql',
      webSocketImpl: signedWebSocket({ caller: 'gateway', audience: 'devices', key, path: '/graphql', tls }),
      retryAttempts: 0,
    });
    for (const tenantId of tenantIds) {
      const variables = { t: tenantId };
      const principal = encodePrincipal({
        kind: 'user',
        userId: randomUUID(),
        tenantId,
        roles: ['viewer'],
        scopes: ['devices:read'],
        sessionId: randomUUID(),
      });
      const signature = signSubscription({
        caller: 'gateway',
        audience: 'devices',
        key,
        payload: { query, variables },
        principal,
        requestId: `bench-${randomUUID()}`,
        now: Date.now(),
      });
      this.#client.subscribe<{
        deviceStatusChanged?: { checkedAt: string | null; device: { id: string } | null } | null;
      }>(
        { query, variables, extensions: { [SUBSCRIPTION_SIGNATURE_EXTENSION]: signature } },
        {
          next: (result) => {
            const at = performance.timeOrigin + performance.now();
            const status = result.data?.deviceStatusChanged;
            if (!this.#recording || !status?.device || !status.checkedAt) return;
            this.receipts.set(`${status.device.id} ${status.checkedAt}`, at);
          },
          error: () => this.errors++,
          complete: () => this.errors++,
        },
      );
    }
  }

  record(on: boolean): void {
    this.#recording = on;
  }

  async stop(): Promise<void> {
    await this.#client.dispose();
  }
}
