import type { RouterClient } from '@fleet/router-api';
import type { PlannedChange } from './plan.js';

/**
 * Makes a plan's changes on a router, in the plan's order, each one call. Stops at the first
 * the router refuses (its error carries the router's own message); the changes made before it
 * are the ones returned.
 */
export async function executeChanges(
  client: RouterClient,
  changes: readonly PlannedChange[],
): Promise<{ done: PlannedChange[] }> {
  const done: PlannedChange[] = [];
  for (const change of changes) {
    switch (change.action) {
      case 'set':
        if (change.itemId === null) await client.setSingle(change.menu, change.properties);
        else await client.set(change.menu, [change.itemId], change.properties);
        break;
      case 'add':
        await client.add(change.menu, {
          ...change.properties,
          ...(change.placeBefore ? { 'place-before': change.placeBefore } : {}),
        });
        break;
      case 'remove':
        await client.remove(change.menu, [change.itemId]);
        break;
    }
    done.push(change);
  }
  return { done };
}
