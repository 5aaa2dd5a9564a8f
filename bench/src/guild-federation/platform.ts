import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFederation, type Federation } from '@fleet/launcher';
import { addMember, choosePlan, createTenant, graphql, LOGIN, signInAdmin } from '../bench-federation.js';
import { BenchTls } from '../bench-tls.js';

/**
 * The platform our gateway needs beside the Guild's subgraphs: aaa (access tokens, the
 * revocation feed) and billing (plan tiers), as `npm start` runs them, with quiet logs; and the
 * access token of a tenant's owner to send every request with.
 */
export interface Platform {
  token: string;
  /** The variables a gateway process needs to reach the platform (mutual TLS, keys, token keys). */
  gatewayEnv: Record<string, string>;
  /** The platform's internal authority and certificates (the launcher's folder). */
  pkiDir: string;
  stop(): Promise<void>;
}

const SERVICES = ['gateway', 'aaa', 'devices', 'billing', 'audit'] as const;

export async function startPlatform(dataDir: string): Promise<Platform> {
  const quiet = Object.fromEntries(
    SERVICES.map((service) => [service, { [`${service.toUpperCase()}_LOG_LEVEL`]: 'warn' }]),
  ) as Record<(typeof SERVICES)[number], Record<string, string>>;
  const federation: Federation = await startFederation({
    dataDir,
    env: {},
    ports: { gateway: 0, aaa: 0, devices: 0, billing: 0, audit: 0 },
    overrides: quiet,
    output: 'capture',
  });
  try {
    const pki = BenchTls.of(federation);
    const url = federation.gatewayUrl;
    const adminToken = await signInAdmin(federation);
    const tenant = { id: await createTenant(url, adminToken, 'guild'), slug: 'guild' };
    await choosePlan(url, adminToken, tenant.id, 'enterprise');
    const owner = await addMember(url, adminToken, tenant, 'owner@guild.example', ['owner']);
    const token = (await graphql<{ login: { accessToken: string } }>(url, LOGIN, { i: owner })).login
      .accessToken;
    const secrets = JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8')) as Record<string, string>;
    const gatewayEnv: Record<string, string> = {
      GATEWAY_TOKEN_KEYS: secrets['token-keys']!,
      // The gateway's certificates: mutual TLS to the platform's subgraphs.
      ...pki.env('gateway'),
    };
    for (const subgraph of ['aaa', 'devices', 'billing', 'audit'] as const) {
      gatewayEnv[`GATEWAY_${subgraph.toUpperCase()}_URL`] = `${federation.url(subgraph)}/graphql`;
      gatewayEnv[`GATEWAY_KEY_${subgraph.toUpperCase()}`] = secrets[`gateway-${subgraph}`]!;
    }
    return { token, gatewayEnv, pkiDir: pki.dir, stop: () => federation.stop() };
  } catch (error) {
    await federation.stop();
    throw error;
  }
}
