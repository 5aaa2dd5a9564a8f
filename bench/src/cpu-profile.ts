import { DEFAULT_INSPECTOR_PORT, openInspector } from './inspector.js';

/**
 * A CPU profile of another Node process over exactly the span between start and stop, through
 * its inspector (see openInspector: opened on loopback by SIGUSR1, refused if `entry` is not part
 * of the main script's URL of whatever listens on `port`).
 */
export async function startCpuProfile(
  pid: number,
  entry: string,
  port = DEFAULT_INSPECTOR_PORT,
): Promise<{ stop(): Promise<unknown> }> {
  const session = await openInspector(pid, entry, port);
  await session.call('Profiler.enable');
  await session.call('Profiler.start');
  return {
    async stop() {
      const { profile } = (await session.call('Profiler.stop')) as { profile: unknown };
      await session.call('Profiler.disable');
      session.close();
      return profile;
    },
  };
}
