import { readFileSync, writeFileSync } from 'node:fs';

/** One gateway's figures over a measured window (or their medians over the rounds). */
export interface Row {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** User + system CPU of the gateway's process over the window, per answered request. */
  cpuMsPerRequest: number;
  /** The process's peak resident memory (VmHWM) at the end of the window. */
  peakRssMb: number;
  /** Subgraph calls one request took (counted by the subgraphs). */
  subgraphCalls: number;
  answerBytes: number;
}

export interface Results<V extends string> {
  date: string;
  rounds: number;
  seconds: number;
  connections: number;
  machine: { cores: number; cpu: string; node: string; pinned: string };
  summary: Record<V, Row>;
  ratios: { oursOverApollo: number; oursOverHiveNoDedup: number; oursMergedOverHiveDedup: number };
  labels: Record<V, string>;
}

const START = '<!-- gateway-peers:start -->';
const END = '<!-- gateway-peers:end -->';

/** Replaces the table between the markers of `readme` with these results. */
export function writeResultsTable<V extends string>(readme: URL, results: Results<V>): void {
  const text = readFileSync(readme, 'utf8');
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${readme.pathname} has no ${START} … ${END} section`);
  writeFileSync(readme, `${text.slice(0, start + START.length)}\n${markdown(results)}\n${text.slice(end)}`);
}

function markdown<V extends string>(results: Results<V>): string {
  const { machine, ratios } = results;
  const lines = [
    `${results.date}: median of ${results.rounds} round(s) of ${results.seconds} s, ${results.connections} connections; ${machine.cores} vCPU (${machine.cpu}), Node ${machine.node}, ${machine.pinned}.`,
    '',
    '| gateway | req/s | p50 | p99 | CPU per request | peak RSS | subgraph calls per request |',
    '| ------- | ----- | --- | --- | --------------- | -------- | -------------------------- |',
  ];
  for (const [variant, row] of Object.entries(results.summary) as [V, Row][]) {
    lines.push(
      `| ${results.labels[variant]} | ${Math.round(row.requestsPerSecond).toLocaleString('en-US')} | ${row.p50Ms} ms | ${row.p99Ms} ms | ${row.cpuMsPerRequest.toFixed(2)} ms | ${Math.round(row.peakRssMb)} MB | ${row.subgraphCalls} |`,
    );
  }
  lines.push(
    '',
    `Throughput ratios: ours / Apollo Gateway **${ratios.oursOverApollo}**, ours / Hive Gateway without inbound dedup **${ratios.oursOverHiveNoDedup}**, ours with request merging / Hive Gateway with inbound dedup **${ratios.oursMergedOverHiveDedup}**.`,
  );
  return lines.join('\n');
}
