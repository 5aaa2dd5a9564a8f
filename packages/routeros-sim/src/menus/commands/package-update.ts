import type { MenuCommand } from '../../protocol/command-context.js';
import type { RouterFacts } from '../definition.js';
import type { RouterConfig } from '../router-config.js';

const PATH = '/system/package/update';

/** The release the update server offers: the next patch of the router's release line. */
export function latestRelease(facts: RouterFacts): string {
  const [major, minor, patch = '0'] = facts.profile.release.split('.');
  return `${major}.${minor}.${Number(patch) + 1}`;
}

function newer(a: string, b: string): boolean {
  const left = a.split('.').map(Number);
  const right = b.split('.').map(Number);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const difference = (left[i] ?? 0) - (right[i] ?? 0);
    if (difference !== 0) return difference > 0;
  }
  return false;
}

function record(config: RouterConfig, values: Record<string, string>): Record<string, string> {
  const row = config.store(PATH).rows()[0]!;
  const next = { ...row.values, ...values };
  config.update(PATH, row.id, next);
  return {
    channel: next.channel ?? 'stable',
    'installed-version': config.facts.installedVersion,
    ...(next['latest-version'] ? { 'latest-version': next['latest-version'] } : {}),
    status: next.status ?? '',
  };
}

export const checkForUpdates: MenuCommand = (_request, { config, facts, reply }) => {
  const latest = latestRelease(facts);
  const channel = config.store(PATH).rows()[0]!.values.channel ?? 'stable';
  reply.re({ channel, 'installed-version': facts.installedVersion, status: 'finding out latest version...' });
  const status = newer(latest, facts.installedVersion)
    ? 'New version is available'
    : 'System is already up to date';
  reply.re(record(config, { 'latest-version': latest, status }));
  reply.done();
};

export const downloadUpdate: MenuCommand = (_request, { config, facts, reply }) => {
  const latest = latestRelease(facts);
  const status = newer(latest, facts.installedVersion)
    ? 'Downloaded, please reboot router to upgrade it'
    : 'System is already up to date';
  reply.re(record(config, { 'latest-version': latest, status }));
  reply.done();
};

/** Installs the newer release and reboots; the router then reports the new version. */
export const installUpdate: MenuCommand = (_request, { config, facts, reply, actions }) => {
  const latest = latestRelease(facts);
  if (!newer(latest, facts.installedVersion)) {
    reply.re(record(config, { 'latest-version': latest, status: 'System is already up to date' }));
    reply.done();
    return;
  }
  record(config, { 'latest-version': latest, status: 'installing' });
  reply.done();
  actions.install(latest);
};

export const reboot: MenuCommand = (_request, { reply, actions }) => {
  reply.done();
  actions.reboot();
};
