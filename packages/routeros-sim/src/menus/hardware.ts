import type { RouterFacts } from './definition.js';
import { formatDuration } from './duration.js';
import { variation, wave } from './variation.js';

/** The boards a simulated fleet is made of; each router is one of them, by its index. */
interface Board {
  readonly boardName: string;
  readonly model: string;
  readonly architecture: string;
  readonly cpu: string;
  readonly cpuCount: number;
  readonly cpuFrequency: number;
  readonly totalMemory: number;
  readonly totalHdd: number;
  readonly firmwareType: string;
}

const BOARDS: readonly Board[] = [
  {
    boardName: 'RB5009UG+S+',
    model: 'RB5009UG+S+',
    architecture: 'arm64',
    cpu: 'ARM64',
    cpuCount: 4,
    cpuFrequency: 350,
    totalMemory: 1024 * 1024 * 1024,
    totalHdd: 1024 * 1024 * 1024,
    firmwareType: 'al2',
  },
  {
    boardName: 'hAP ac^2',
    model: 'RBD52G-5HacD2HnD',
    architecture: 'arm',
    cpu: 'ARMv7',
    cpuCount: 4,
    cpuFrequency: 716,
    totalMemory: 128 * 1024 * 1024,
    totalHdd: 16 * 1024 * 1024,
    firmwareType: 'ipq4000L',
  },
  {
    boardName: 'CCR2004-1G-12S+2XS',
    model: 'CCR2004-1G-12S+2XS',
    architecture: 'arm64',
    cpu: 'ARM64',
    cpuCount: 4,
    cpuFrequency: 1700,
    totalMemory: 4 * 1024 * 1024 * 1024,
    totalHdd: 128 * 1024 * 1024,
    firmwareType: 'al64v2',
  },
];

export function boardOf(facts: RouterFacts): Board {
  return BOARDS[facts.index % BOARDS.length]!;
}

export function serialNumber(facts: RouterFacts): string {
  const high = Math.floor(variation(facts.index, 11) * 0x1000000);
  const low = Math.floor(variation(facts.index, 12) * 0x1000000);
  return (high.toString(16) + low.toString(16)).toUpperCase().padStart(12, '0').slice(0, 12);
}

export function macAddress(facts: RouterFacts, port: number): string {
  const bytes = [0x48, 0xa9, 0x8a, (facts.index >> 8) & 0xff, facts.index & 0xff, port & 0xff];
  return bytes.map((byte) => byte.toString(16).toUpperCase().padStart(2, '0')).join(':');
}

/** `2025-02-26 11:50:56` on 7.x, `feb/26/2025 11:50:56` on 6.x. */
export function formatDateTime(facts: RouterFacts, milliseconds: number): string {
  return `${formatDate(facts, milliseconds)} ${formatTime(milliseconds)}`;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

export function formatDate(facts: RouterFacts, milliseconds: number): string {
  const date = new Date(milliseconds);
  const day = String(date.getUTCDate()).padStart(2, '0');
  const month = date.getUTCMonth();
  if (facts.profile.major === 6) return `${MONTHS[month]}/${day}/${date.getUTCFullYear()}`;
  return `${date.getUTCFullYear()}-${String(month + 1).padStart(2, '0')}-${day}`;
}

export function formatTime(milliseconds: number): string {
  return new Date(milliseconds).toISOString().slice(11, 19);
}

/** The version as /system/resource prints it: `7.18.2 (stable)`. */
export function versionText(facts: RouterFacts): string {
  return `${facts.installedVersion} (${facts.profile.channel})`;
}

export function uptime(facts: RouterFacts): string {
  return formatDuration(facts.now() - facts.bootTime);
}

export function cpuLoad(facts: RouterFacts): number {
  return Math.max(0, Math.min(100, Math.round(3 + 40 * wave(facts.index, 21, facts.now()) ** 2)));
}

export function freeMemory(facts: RouterFacts): number {
  const total = boardOf(facts).totalMemory;
  const used = 0.25 + 0.2 * wave(facts.index, 22, facts.now());
  return Math.round(total * (1 - used));
}

/** Bytes per second an ethernet carries on average; ether1 (the uplink) the most. */
function byteRate(facts: RouterFacts, port: number, direction: 'rx' | 'tx'): number {
  const base = port === 1 ? 2_000_000 : 150_000;
  const salt = port * 2 + (direction === 'rx' ? 0 : 1);
  return Math.round(base * (0.2 + variation(facts.index, 100 + salt)));
}

/** The number in `ether7`, or 0 for an interface that is no ethernet. */
export function portNumber(defaultName: string | undefined): number {
  const match = /^ether(\d+)$/.exec(defaultName ?? '');
  return match ? Number(match[1]) : 0;
}

/** Counters since boot: they grow with time and start again at a reboot. */
export function interfaceCounters(facts: RouterFacts, port: number): Record<string, string> {
  const seconds = Math.max(0, facts.now() - facts.bootTime) / 1000;
  const rxByte = Math.floor(byteRate(facts, port, 'rx') * seconds);
  const txByte = Math.floor(byteRate(facts, port, 'tx') * seconds);
  return {
    'rx-byte': String(rxByte),
    'tx-byte': String(txByte),
    'rx-packet': String(Math.floor(rxByte / 800)),
    'tx-packet': String(Math.floor(txByte / 600)),
    'rx-drop': '0',
    'tx-drop': '0',
    'tx-queue-drop': '0',
    'rx-error': '0',
    'tx-error': '0',
  };
}

/** What `/interface/monitor-traffic` reports for one interface now. */
export function trafficRates(facts: RouterFacts, port: number): { rxBits: number; txBits: number } {
  const now = facts.now();
  const rx = byteRate(facts, port, 'rx') * 8 * (0.5 + wave(facts.index, 200 + port, now));
  const tx = byteRate(facts, port, 'tx') * 8 * (0.5 + wave(facts.index, 300 + port, now));
  return { rxBits: Math.round(rx), txBits: Math.round(tx) };
}
