import type { Logger, Principal } from '@fleet/service-kit';

/** What every operation through the gateway knows about its caller. */
export interface GatewayContext {
  principal: Principal;
  requestId: string;
  logger: Logger;
}
