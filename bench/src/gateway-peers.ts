import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadOrCreatePki } from '@fleet/internal-pki';
import { generateKey } from '@fleet/request-signing';
import { checkAnswer, expectedAnswer } from './guild-federation/expected-answer.js';
import { GUILD_REQUEST_BODY } from './guild-federation/guild-query.js';
import { GUILD_SUBGRAPHS } from './guild-federation/guild-schemas.js';
import { composeGuildSupergraph } from './guild-federation/guild-supergraph.js';
import {
  GATEWAY_CPU,
  GATEWAY_VARIANTS,
  RAISED_LIMITS,
  startVariant,
  VARIANT_LABELS,
  type GatewayVariant,
  type VariantContext,
} from './guild-federation/gateway-variants.js';
import { load } from './guild-federation/load.js';
import { canPin, startNodeProcess, type NodeProcess } from './node-process.js';
import { startPlatform } from './guild-federation/platform.js';
import { writeResultsTable, type Row } from './guild-federation/results-table.js';
import { processUsage } from './process-usage.js';
import { commandLineOptions } from './command-line.js';

/**
 * Our gateway against its peers on The Guild's federation gateways benchmark: its four
 * subgraphs (ported to Node, one process, answers memoised) and its query (about 88 KB of answer
 * over 16 subgraph calls), through bare Apollo Gateway, Hive Gateway with and without inbound
 * deduplication, and ours with every protection on, with and without request merging, and over
 * HTTPS with mutual TLS to the subgraphs. Each gateway runs alone in its own process on one CPU,
 * behind a guard that refuses any connection beyond loopback; subgraphs, the platform and
 * autocannon share the other CPU. Rounds alternate the order. Writes the medians into
 * bench/README.md.
 *
 *   npm run bench:gateway -- --rounds 3 --seconds 12 --connections 50 [--warmup 2] [--cpu-prof DIR]
 *     [--only ours,apollo-gateway]
 *
 * `--only` measures some of the gateways (for profiling, or to compare two); such a run, like a
 * profiled one, prints its figures and leaves the table alone.
 */
const args = commandLineOptions();
const rounds = Number(args.get('rounds') ?? 3);
const seconds = Number(args.get('seconds') ?? 12);
const connections = Number(args.get('connections') ?? 50);
const warmup = Number(args.get('warmup') ?? 2);
const cpuProfileDir = args.get('cpu-prof') ? resolve(args.get('cpu-prof')!) : undefined;
const variants = selectedVariants(args.get('only'));
const everyVariant = variants.length === GATEWAY_VARIANTS.length;

// Read before this process is pinned to one of them.
const cores = availableParallelism();
const loadAverage = Number(loadavg()[0]!.toFixed(1));
// Everything this process starts (platform, subgraphs, autocannon) inherits the other CPU.
if (canPin) execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });

const dataDir = await mkdtemp(join(tmpdir(), 'fleet-peers-'));
const started: { stop(): Promise<void> }[] = [];
try {
  const platform = await startPlatform(join(dataDir, 'platform'));
  started.push(platform);
  const keys = Object.fromEntries(GUILD_SUBGRAPHS.map((name) => [name, generateKey()]));
  // The Guild's subgraphs get certificates of the platform's authority, for mutual TLS with our
  // gateway (the TLS variant), as the platform's own subgraphs have.
  await loadOrCreatePki(platform.pkiDir, GUILD_SUBGRAPHS);
  const subgraphs = await startNodeProcess({
    entry: new URL('./guild-federation/guild-subgraphs-process.js', import.meta.url),
    env: { GUILD_KEYS: JSON.stringify(keys), GUILD_PKI_DIR: platform.pkiDir },
  });
  started.push(subgraphs);
  const plainUrl = `http://127.0.0.1:${subgraphs.ready.port}`;
  const signedUrl = `http://127.0.0.1:${String(subgraphs.ready.signedPort)}`;
  const tlsPorts = subgraphs.ready.tlsPorts as Record<string, number>;
  const context: VariantContext = {
    plainSupergraph: join(dataDir, 'supergraph.graphql'),
    authenticatedSupergraph: join(dataDir, 'supergraph-authenticated.graphql'),
    signedSubgraphUrls: Object.fromEntries(GUILD_SUBGRAPHS.map((name) => [name, `${signedUrl}/${name}`])),
    tlsSubgraphUrls: Object.fromEntries(
      GUILD_SUBGRAPHS.map((name) => [name, `https://127.0.0.1:${tlsPorts[name]}/${name}`]),
    ),
    guildKeys: JSON.stringify(keys),
    platformEnv: platform.gatewayEnv,
    cpuProfileDir,
  };
  writeFileSync(context.plainSupergraph, composeGuildSupergraph(plainUrl, { authenticated: false }));
  writeFileSync(context.authenticatedSupergraph, composeGuildSupergraph(signedUrl, { authenticated: true }));
  if (cpuProfileDir) await mkdir(cpuProfileDir, { recursive: true });
  const expected = await expectedAnswer();

  const headersOf = (variant: GatewayVariant): Record<string, string> =>
    variant.startsWith('ours') ? { authorization: `Bearer ${platform.token}` } : {};
  const results = Object.fromEntries(variants.map((variant) => [variant, [] as Row[]])) as Record<
    GatewayVariant,
    Row[]
  >;
  for (let round = 0; round < rounds; round++) {
    // Each round swaps the order, so no gateway always meets a colder or warmer machine.
    const order = round % 2 === 0 ? [...variants] : [...variants].reverse();
    for (const variant of order) {
      const gateway = await startVariant(variant, context);
      try {
        const scheme = variant === 'ours-tls' ? 'https' : 'http';
        const url = `${scheme}://127.0.0.1:${gateway.ready.port}/graphql`;
        const headers = headersOf(variant);
        // Correct before timed: the whole answer, and the subgraph calls it took.
        const before = await callCounts(subgraphs);
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: GUILD_REQUEST_BODY,
        });
        const answer = await response.text();
        if (response.status !== 200)
          throw new Error(`${variant} answered ${response.status}: ${answer.slice(0, 500)}`);
        checkAnswer(variant, answer, expected);
        const after = await callCounts(subgraphs);
        const subgraphCalls = after.total - before.total;
        if (variant.startsWith('ours') && after.signed - before.signed !== subgraphCalls) {
          throw new Error(`${variant}: not every subgraph call was signed and verified`);
        }
        const loadOptions = { url, body: GUILD_REQUEST_BODY, headers, connections, expectBody: answer };
        // Warm-up, untimed: the JIT, the plan cache and the connection pools.
        await load({ ...loadOptions, seconds: warmup, allowTimeouts: true });
        const cpuBefore = processUsage(gateway.pid).cpuSeconds;
        const measured = await load({ ...loadOptions, seconds });
        const usage = processUsage(gateway.pid);
        results[variant].push({
          requestsPerSecond: measured.requestsPerSecond,
          p50Ms: measured.p50Ms,
          p99Ms: measured.p99Ms,
          cpuMsPerRequest: ((usage.cpuSeconds - cpuBefore) * 1000) / measured.requests,
          peakRssMb: usage.peakRssBytes / 1_048_576,
          subgraphCalls,
          answerBytes: Buffer.byteLength(answer),
        });
        process.stderr.write(
          `round ${round + 1} ${variant}: ${Math.round(measured.requestsPerSecond)} req/s, ${subgraphCalls} subgraph calls per request\n`,
        );
      } catch (error) {
        process.stderr.write(`${variant} logs:\n${gateway.logs().slice(-30).join('\n')}\n`);
        throw error;
      } finally {
        await gateway.stop();
      }
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const summary = Object.fromEntries(
    variants.map((variant) => {
      const list = results[variant];
      const row: Row = {
        requestsPerSecond: median(list.map((r) => r.requestsPerSecond)),
        p50Ms: median(list.map((r) => r.p50Ms)),
        p99Ms: median(list.map((r) => r.p99Ms)),
        cpuMsPerRequest: median(list.map((r) => r.cpuMsPerRequest)),
        peakRssMb: median(list.map((r) => r.peakRssMb)),
        subgraphCalls: median(list.map((r) => r.subgraphCalls)),
        answerBytes: median(list.map((r) => r.answerBytes)),
      };
      return [variant, row];
    }),
  ) as Record<GatewayVariant, Row>;
  const ratio = (a: GatewayVariant, b: GatewayVariant) =>
    Number((summary[a].requestsPerSecond / summary[b].requestsPerSecond).toFixed(2));
  // Ratios only between gateways this run measured.
  const ratios = everyVariant
    ? {
        oursOverApollo: ratio('ours', 'apollo-gateway'),
        oursOverHiveNoDedup: ratio('ours', 'hive-gateway-no-dedup'),
        oursMergedOverHiveDedup: ratio('ours-merged', 'hive-gateway'),
        oursTlsOverApollo: ratio('ours-tls', 'apollo-gateway'),
        tlsCpuMsPerRequest: summary['ours-tls'].cpuMsPerRequest - summary.ours.cpuMsPerRequest,
      }
    : undefined;
  const machine = {
    cores,
    loadAverage,
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    pinned: canPin ? `gateway on CPU ${GATEWAY_CPU}, everything else on CPU 0` : 'not pinned (no taskset)',
  };
  const run = { date: new Date().toISOString().slice(0, 10), rounds, seconds, connections, warmup };
  console.log(
    JSON.stringify(
      { ...run, machine, raisedLimits: RAISED_LIMITS, summary, ratios, perRound: results },
      null,
      2,
    ),
  );
  if (!cpuProfileDir && ratios) {
    writeResultsTable(new URL('../README.md', import.meta.url), {
      ...run,
      machine,
      summary,
      ratios,
      labels: VARIANT_LABELS,
    });
  }
} finally {
  for (const service of started.reverse()) await service.stop();
  await rm(dataDir, { recursive: true, force: true });
}

/** The gateways `--only` names (comma-separated), all of them without it. */
function selectedVariants(only: string | undefined): GatewayVariant[] {
  if (only === undefined) return [...GATEWAY_VARIANTS];
  const named = only.split(',').map((name) => name.trim());
  const unknown = named.filter((name) => !(GATEWAY_VARIANTS as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new Error(`--only takes some of ${GATEWAY_VARIANTS.join(', ')}; not ${unknown.join(', ')}`);
  }
  return GATEWAY_VARIANTS.filter((variant) => named.includes(variant));
}

/** The subgraph calls served so far, over all four, and the signatures verified. */
async function callCounts(subgraphs: NodeProcess): Promise<{ total: number; signed: number }> {
  const counts = await new Promise<{ calls: Record<string, number>; signed: number }>((resolveCounts) => {
    const listener = (message: {
      type?: string;
      counts?: { calls: Record<string, number>; signed: number };
    }) => {
      if (message.type !== 'counts' || !message.counts) return;
      subgraphs.child.off('message', listener);
      resolveCounts(message.counts);
    };
    subgraphs.child.on('message', listener);
    subgraphs.child.send({ type: 'counts' });
  });
  return { total: Object.values(counts.calls).reduce((sum, n) => sum + n, 0), signed: counts.signed };
}
