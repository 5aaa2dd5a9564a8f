import type { RouterClient } from '@fleet/router-api';
import type { PlannedChange } from './plan.js';

/**
 * Makes one planned change on a router; answers the new item's id for an `add`. A refusal
 * throws the router's error, with its own message.
 */
export async function executeChange(
  client: RouterClient,
  change: PlannedChange,
): Promise<string | undefined> {
  switch (change.action) {
    case 'set':
      if (change.itemId === null) await client.setSingle(change.menu, change.properties);
      else await client.set(change.menu, [change.itemId], change.properties);
      return undefined;
    case 'add':
      return client.add(change.menu, {
        ...change.properties,
        ...(change.placeBefore ? { 'place-before': change.placeBefore } : {}),
      });
    case 'remove':
      await client.remove(change.menu, [change.itemId]);
      return undefined;
  }
}
