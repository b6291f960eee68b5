import { describe, expect, it } from 'vitest';
import { edgeOf, nodeRoles, parseClusterEdges } from '../../../bench/lib/cluster.ts';
import {
  bytesPerDevice,
  type ClusterWorld,
  clusterRows,
  clusterTable,
} from '../../../bench/lib/cluster-report.ts';
import { descendants, type ProcStat, parseProcStat, treeTicks } from '../../../bench/lib/proc.ts';
import { loadConfig } from '../../../services/core/config.ts';
import { clusterNodeEnv } from '../../helpers/cluster-env.ts';

// Issue #14: `npm run bench -- --cluster` (bench/lib/cluster.ts, cluster-report.ts, proc.ts).

describe('parseClusterEdges', () => {
  it('is null without the flag and 1 and 2 edges with it alone', () => {
    expect(parseClusterEdges(['--quick'])).toBeNull();
    expect(parseClusterEdges(['--cluster'])).toEqual([1, 2]);
    expect(parseClusterEdges(['--cluster', '--devices', '2000'])).toEqual([1, 2]);
  });

  it('takes a list after = or as the next argument, sorted and once each', () => {
    expect(parseClusterEdges(['--cluster=2'])).toEqual([2]);
    expect(parseClusterEdges(['--cluster', '3,1,3'])).toEqual([1, 3]);
  });

  it('refuses what is not an edge count from 1 to 8, naming it', () => {
    expect(() => parseClusterEdges(['--cluster=0'])).toThrow(/'0'/);
    expect(() => parseClusterEdges(['--cluster=9'])).toThrow(/'9'/);
    expect(() => parseClusterEdges(['--cluster=1,x'])).toThrow(/'x'/);
  });
});

describe('the bench cluster', () => {
  it('spreads devices round robin over the edges', () => {
    const counts = [0, 0];
    for (let i = 0; i < 1001; i++) counts[edgeOf(i, 2)] = (counts[edgeOf(i, 2)] ?? 0) + 1;
    expect(counts).toEqual([501, 500]);
    expect(edgeOf(7, 1)).toBe(0);
  });

  it('puts a node in cluster mode through the config loader (the env the bench and test:cluster use)', () => {
    const env = clusterNodeEnv({
      nodeId: 'node-2',
      roles: nodeRoles(1),
      redisUrl: 'redis://127.0.0.1:6390',
      postgresUrl: 'postgres://postgres@127.0.0.1:5439/bench_x',
      partitions: 16,
    });
    const c = loadConfig({ env }).cluster;
    expect(c).toMatchObject({
      enabled: true,
      roles: ['edge'],
      nodeId: 'node-2',
      redisUrl: 'redis://127.0.0.1:6390',
      postgresUrl: 'postgres://postgres@127.0.0.1:5439/bench_x',
      partitions: 16,
    });
  });

  it('has one core: node 1 is edge, core and api, the others edges only', () => {
    expect(nodeRoles(0)).toEqual(['edge', 'core', 'api']);
    expect(nodeRoles(1)).toEqual(['edge']);
    expect(nodeRoles(2)).toEqual(['edge']);
  });
});

describe('process tree CPU (PostgreSQL and its backends)', () => {
  it('parses /proc/<pid>/stat with spaces and parentheses in the name', () => {
    const line =
      '4242 (postgres: bench (x)) S 4200 4200 4200 0 -1 4194560 100 0 0 0 150 50 7 3 20 0 1 0 1 1 1';
    expect(parseProcStat(line)).toEqual({ pid: 4242, ppid: 4200, selfTicks: 200, childTicks: 10 });
    expect(parseProcStat('garbage')).toBeNull();
  });

  it('sums the root (own and reaped children) and every live descendant, nothing else', () => {
    const stats: ProcStat[] = [
      { pid: 1, ppid: 0, selfTicks: 1000, childTicks: 0 },
      { pid: 10, ppid: 1, selfTicks: 5, childTicks: 40 }, // postmaster
      { pid: 11, ppid: 10, selfTicks: 100, childTicks: 0 }, // backend
      { pid: 12, ppid: 10, selfTicks: 20, childTicks: 0 },
      { pid: 13, ppid: 12, selfTicks: 2, childTicks: 0 }, // grandchild
      { pid: 20, ppid: 1, selfTicks: 999, childTicks: 0 }, // unrelated
    ];
    expect(descendants(stats, 10).map((s) => s.pid)).toEqual([11, 12, 13]);
    expect(treeTicks(stats, 10)).toBe(5 + 40 + 100 + 20 + 2);
    expect(treeTicks(stats, 99)).toBeNull();
  });
});

type Memory = NonNullable<ClusterWorld['fleet']>['memoryMiB'];
const world = (over: {
  cpu: Record<string, number>;
  memory?: Memory;
  storm?: ClusterWorld['storm'];
}): ClusterWorld => ({
  devices: 1000,
  fleet: {
    connected: 1000,
    messagesPerS: 50,
    pipelineCpuPct: Object.entries(over.cpu)
      .filter(([k]) => !k.startsWith('generator'))
      .reduce((a, [, v]) => a + v, 0),
    window: { wallS: 10, pctOfOneCore: over.cpu },
    memoryMiB: over.memory,
  },
  storm: over.storm,
});

describe('the cluster results table', () => {
  const mosquitto = world({
    cpu: { mosquitto: 2, forwarder: 3, influxd: 5, generator1: 40 },
    memory: { before: { mosquitto: 8, forwarder: 90 }, after: { mosquitto: 10, forwarder: 91 } },
    storm: {
      allConnackS: 2,
      cpu: { wallS: 4, pctOfOneCore: { mosquitto: 50, forwarder: 25, generator1: 90 } },
    },
  });
  const cluster2 = world({
    cpu: { node1: 12, node2: 8, redis: 3, postgres: 2, influxd: 5, generator1: 40 },
    memory: {
      before: { node1: 100, node2: 90, redis: 5, postgres: 30 },
      after: { node1: 110, node2: 99.5, redis: 9, postgres: 31 },
    },
    storm: {
      allConnackS: 5,
      allOnlineS: 6,
      cpu: { wallS: 8, pctOfOneCore: { node1: 100, node2: 50, redis: 25, postgres: 0, generator1: 80 } },
    },
  });
  const worlds = { mosquitto, 'cluster-2': cluster2 };
  const systems = ['mosquitto', 'cluster-2'];
  const rows = clusterRows(systems, worlds);
  const row = (metric: string) => {
    const r = rows.find((x) => x.metric.startsWith(metric));
    if (!r) throw new Error(`no row ${metric}: ${rows.map((x) => x.metric).join('; ')}`);
    return r;
  };

  it('leaves the generators out of the pipeline and gives the ratio to Mosquitto', () => {
    expect(row('fleet: pipeline CPU').values).toEqual([10, 30]);
    expect(row('fleet: pipeline CPU').ratios).toEqual([1, 3]);
    expect(rows.some((r) => r.metric.includes('generator1'))).toBe(false);
    expect(row('  fleet CPU postgres').values).toEqual([null, 2]);
  });

  it('counts memory per device over the broker processes only (every edge, not Redis or PostgreSQL)', () => {
    // cluster: (10 + 9.5) MiB over 1,000 devices; Mosquitto: 2 MiB (not the forwarder's growth).
    expect(bytesPerDevice(cluster2)).toBe(Math.round((19.5 * 2 ** 20) / 1000));
    expect(row('fleet: memory per connected device').values).toEqual([2.0, 20.0]);
    expect(row('  memory postgres').metric).toContain('PSS');
  });

  it('gives the storm in seconds and the pipeline CPU per device', () => {
    expect(row('storm: drop → last CONNACK').values).toEqual([2, 5]);
    expect(row('storm: drop → last CONNACK').ratios).toEqual([1, 2.5]);
    // Mosquitto: (0.5 + 0.25) × 4 s = 3 s over 1,000; cluster: (1 + 0.5 + 0.25) × 8 s = 14 s.
    expect(row('storm: CPU of the pipeline').values).toEqual([3, 14]);
    expect(row('  storm CPU node1').values).toEqual([null, 8]);
  });

  it('says how far a storm got instead of a blank when it gave up', () => {
    const r = clusterRows(['cluster-1'], {
      'cluster-1': world({ cpu: { node1: 1 }, storm: { error: 'storm: hard timeout after 60 s' } }),
    });
    expect(r.find((x) => x.metric.startsWith('storm: drop → last'))?.values[0]).toMatch(/^gave up/);
  });

  it('renders one column per system and a ratio column per system but the baseline', () => {
    const md = clusterTable(systems, rows).split('\n');
    expect(md[0]).toBe('| metric | Mosquitto pipeline | cluster, 2 edges | cluster, 2 edges ÷ Mosquitto |');
    expect(md.find((l) => l.startsWith('| fleet: pipeline CPU'))).toMatch(/\| 10 \| 30 \| 3 \|$/);
    expect(md.find((l) => l.startsWith('| devices connected'))).toMatch(/\| 1,000 \| 1,000 \| {2}\|$/);
  });
});
