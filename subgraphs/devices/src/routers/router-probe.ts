import { RouterClient, RouterError, RouterLoginError, type RouterTls } from '@fleet/router-api';
import { BadUserInputError } from '@fleet/service-kit';
import type { RouterCredentials } from '../credentials/credential-vault.js';

/** Where and how to reach a router's API. */
export interface RouterAddress {
  /** How the router is named in errors. */
  name: string;
  /** The address to connect to (already checked against the allowed networks). */
  address: string;
  /** The host name the operator gave, for certificate verification. */
  host: string;
  port: number;
  tls: RouterTls | undefined;
}

/** What a router says of itself when the platform first reaches it. */
export interface RouterFacts {
  identity: string;
  version: string;
  board: string;
}

export interface ProbeTimeouts {
  connectTimeoutMs: number;
  callTimeoutMs: number;
}

/**
 * Connects and logs in to a router and reads who it is: the proof that the address, the TLS
 * settings and the credentials work, before a device is stored with them. A failure becomes a
 * BadUserInputError saying which of them failed, in the router client's words (which never hold
 * the password).
 */
export async function probeRouter(
  router: RouterAddress,
  credentials: RouterCredentials,
  timeouts: ProbeTimeouts,
): Promise<RouterFacts> {
  const client = new RouterClient(
    {
      name: router.name,
      host: router.address,
      port: router.port,
      username: credentials.username,
      password: credentials.password,
      ...(router.tls ? { tls: withServername(router.tls, router.host) } : {}),
    },
    { ...timeouts, maxConcurrentCalls: 2 },
  );
  try {
    const [identity] = await client.print('/system/identity');
    const [resource] = await client.print('/system/resource');
    return {
      identity: String(identity?.name ?? ''),
      version: String(resource?.version ?? ''),
      board: String(resource?.['board-name'] ?? ''),
    };
  } catch (error) {
    if (error instanceof RouterLoginError) {
      throw new BadUserInputError('The router refused the username or password', 'password');
    }
    if (error instanceof RouterError) {
      const reason = error.message.slice(error.router.length + 2);
      throw new BadUserInputError(
        `Could not reach the router's API at ${router.host}:${router.port}: ${reason}`,
        'host',
      );
    }
    throw error;
  } finally {
    await client.close();
  }
}

/** Certificates name the host the operator gave, not the address it resolved to. */
export function withServername(tls: RouterTls, host: string): RouterTls {
  return tls.mode === 'verify' && !tls.servername ? { ...tls, servername: host } : tls;
}
