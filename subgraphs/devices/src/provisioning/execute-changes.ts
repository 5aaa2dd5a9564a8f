import type { RouterClient } from '@fleet/router-api';
import type { PlannedChange } from './plan.js';

/**
 * Makes one planned change on a router. Answers the new item's id for an `add`, and for a `move`
 * the id of the item that followed the moved one before ('' when it was the last), which is
 * where undoing puts it back. A refusal throws the router's error, with its own message.
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
    case 'move': {
      const order = (await client.print(change.menu, { proplist: ['.id'] })).map((row) => row['.id']);
      const at = order.indexOf(change.itemId);
      await client.move(change.menu, [change.itemId], change.placeBefore ?? undefined);
      return at === -1 ? undefined : (order[at + 1] ?? '');
    }
  }
}
