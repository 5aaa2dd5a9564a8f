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
  /** The machine's load average (1 min) when the run began: other work on it shows here. */
  machine: { cores: number; loadAverage: number; cpu: string; node: string; pinned: string };
  summary: Record<V, Row>;
  ratios: {
    oursOverApollo: number;
    oursOverHiveNoDedup: number;
    oursMergedOverHiveDedup: number;
    oursTlsOverApollo: number;
    /** What HTTPS at the edge and mutual TLS to the subgraphs add to our CPU per request. */
    tlsCpuMsPerRequest: number;
  };
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
  writeFileSync(
    readme,
    `${text.slice(0, start + START.length)}\n\n${markdown(results)}\n\n${text.slice(end)}`,
  );
}

function markdown<V extends string>(results: Results<V>): string {
  const { machine, ratios } = results;
  const rows = (Object.entries(results.summary) as [V, Row][]).map(([variant, row]) => [
    results.labels[variant],
    Math.round(row.requestsPerSecond).toLocaleString('en-US'),
    `${row.p50Ms} ms`,
    `${row.p99Ms} ms`,
    `${row.cpuMsPerRequest.toFixed(2)} ms`,
    `${Math.round(row.peakRssMb)} MB`,
    String(row.subgraphCalls),
  ]);
  return [
    `${results.date}: median of ${results.rounds} round(s) of ${results.seconds} s, ${results.connections} connections; ${machine.cores} vCPU (${machine.cpu}), Node ${machine.node}, ${machine.pinned}; load average ${machine.loadAverage} at the start.`,
    '',
    ...table(
      ['gateway', 'req/s', 'p50', 'p99', 'CPU per request', 'peak RSS', 'subgraph calls per request'],
      rows,
    ),
    '',
    `Throughput ratios: ours / Apollo Gateway **${ratios.oursOverApollo}**, ours / Hive Gateway without inbound dedup **${ratios.oursOverHiveNoDedup}**, ours with request merging / Hive Gateway with inbound dedup **${ratios.oursMergedOverHiveDedup}**.`,
    '',
    `Over HTTPS and mutual TLS to the subgraphs (the peers and the other rows speak plain HTTP), ours takes ${ratios.tlsCpuMsPerRequest.toFixed(2)} ms more CPU per request, ${ratios.oursTlsOverApollo} times Apollo Gateway's throughput.`,
  ].join('\n');
}

/** A markdown table with its columns padded to their widths, as Prettier writes one. */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)];
}
