import { describe, expect, it } from 'vitest';
import { defaultNodeId, loadConfig } from '../../../services/core/config.ts';
import { ConfigError } from '../../../services/core/errors.ts';

/** Issue #14: the `cluster` section, its env overrides and its cross-checks. */

const REDIS = 'redis://127.0.0.1:6379';
const PG = 'postgres://ww@127.0.0.1:5432/wardwatch';
const enabled = (cluster: Record<string, unknown> = {}) => ({
  cluster: { enabled: true, redisUrl: REDIS, postgresUrl: PG, ...cluster },
});

/** The problems loadConfig reports (fails the test if it accepts the config). */
function problemsOf(opts: Parameters<typeof loadConfig>[0]): string[] {
  try {
    loadConfig(opts);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('config was accepted');
}

describe('cluster config (issue #14)', () => {
  it('is off by default, with every role, 64 partitions and a node id from host and pid', () => {
    const c = loadConfig({ env: {} });
    expect(c.cluster).toEqual({
      enabled: false,
      roles: ['edge', 'core', 'api'],
      redisUrl: null,
      postgresUrl: null,
      partitions: 64,
      nodeId: defaultNodeId(),
      feedMaxLenPerPartition: 100_000,
      leaseS: 15,
      heartbeatS: 5,
    });
    expect(c.cluster.nodeId).toMatch(new RegExp(`^[a-z0-9._-]{1,64}-${process.pid}$`));
  });

  it('accepts a complete cluster section', () => {
    const c = loadConfig({
      env: {},
      overrides: enabled({
        roles: ['edge'],
        redisUrl: 'rediss://user:pw@redis.example.vn:6380/2',
        postgresUrl: 'postgresql://ww:pw@pg.example.vn/wardwatch?sslmode=require',
        partitions: 4096,
        nodeId: 'edge-1.hanoi_a',
        feedMaxLenPerPartition: 500_000,
      }),
    });
    expect(c.cluster).toMatchObject({
      enabled: true,
      roles: ['edge'],
      partitions: 4096,
      nodeId: 'edge-1.hanoi_a',
      feedMaxLenPerPartition: 500_000,
    });
  });

  it('the env overrides every cluster key', () => {
    const c = loadConfig({
      env: {
        WARDWATCH_CLUSTER_ENABLED: 'true',
        WARDWATCH_CLUSTER_ROLES: 'edge, api',
        WARDWATCH_CLUSTER_REDIS_URL: REDIS,
        WARDWATCH_CLUSTER_POSTGRES_URL: PG,
        WARDWATCH_CLUSTER_PARTITIONS: '16',
        WARDWATCH_CLUSTER_NODE_ID: 'edge-7',
        WARDWATCH_CLUSTER_LEASE_S: '30',
        WARDWATCH_CLUSTER_HEARTBEAT_S: '10',
      },
    });
    expect(c.cluster).toMatchObject({
      enabled: true,
      roles: ['edge', 'api'],
      redisUrl: REDIS,
      postgresUrl: PG,
      partitions: 16,
      nodeId: 'edge-7',
      leaseS: 30,
      heartbeatS: 10,
    });
    expect(loadConfig({ env: { WARDWATCH_CLUSTER_ENABLED: 'false' } }).cluster.enabled).toBe(false);
  });

  it('a bad env value names the variable', () => {
    const problems = problemsOf({
      env: {
        WARDWATCH_CLUSTER_ENABLED: 'yes',
        WARDWATCH_CLUSTER_PARTITIONS: 'many',
      },
    }).join('\n');
    expect(problems).toContain("WARDWATCH_CLUSTER_ENABLED: expected true or false, got 'yes'");
    expect(problems).toContain("WARDWATCH_CLUSTER_PARTITIONS: expected an integer, got 'many'");
    // A listed role the schema does not know is reported at its key.
    expect(
      problemsOf({ env: { ...envEnabled, WARDWATCH_CLUSTER_ROLES: 'edge,gateway' } }).join('\n'),
    ).toMatch(/^\/cluster\/roles\/1: .*\(got "gateway"\)$/m);
  });

  it.each([
    ['redisUrl', { redisUrl: null }, /^\/cluster\/redisUrl: required when cluster\.enabled is true$/],
    [
      'postgresUrl',
      { postgresUrl: null },
      /^\/cluster\/postgresUrl: required when cluster\.enabled is true$/,
    ],
    ['redisUrl', { redisUrl: 'http://127.0.0.1:6379' }, /^\/cluster\/redisUrl: /],
    ['redisUrl', { redisUrl: 'redis://' }, /^\/cluster\/redisUrl: /],
    ['redisUrl', { redisUrl: 'redis://[::1' }, /^\/cluster\/redisUrl: not a valid URL$/],
    ['postgresUrl', { postgresUrl: 'mysql://db/ww' }, /^\/cluster\/postgresUrl: /],
    ['postgresUrl', { postgresUrl: 'postgres://a b/ww' }, /^\/cluster\/postgresUrl: not a valid URL$/],
    ['roles', { roles: [] }, /^\/cluster\/roles: /],
    ['roles', { roles: ['edge', 'edge'] }, /^\/cluster\/roles: .*unique/],
    ['roles', { roles: ['broker'] }, /^\/cluster\/roles\/0: /],
    ['roles', { roles: 'edge' }, /^\/cluster\/roles: /],
    ['partitions', { partitions: 0 }, /^\/cluster\/partitions: /],
    ['partitions', { partitions: 4097 }, /^\/cluster\/partitions: /],
    ['partitions', { partitions: 1.5 }, /^\/cluster\/partitions: /],
    ['nodeId', { nodeId: 'Edge-1' }, /^\/cluster\/nodeId: /],
    ['nodeId', { nodeId: '' }, /^\/cluster\/nodeId: /],
    ['nodeId', { nodeId: 'a'.repeat(65) }, /^\/cluster\/nodeId: /],
    ['nodeId', { nodeId: 'edge 1' }, /^\/cluster\/nodeId: /],
    ['feedMaxLenPerPartition', { feedMaxLenPerPartition: 10 }, /^\/cluster\/feedMaxLenPerPartition: /],
    ['enabled', { enabled: 'yes' }, /^\/cluster\/enabled: /],
    ['leaseS', { leaseS: 0 }, /^\/cluster\/leaseS: /],
    ['heartbeatS', { heartbeatS: 1.5 }, /^\/cluster\/heartbeatS: /],
    [
      'leaseS (under three beats)',
      { leaseS: 14, heartbeatS: 5 },
      /^\/cluster\/leaseS: must be at least three times cluster\.heartbeatS \(5\), got 14$/,
    ],
    ['redisUrl (a typo)', { redisURL: REDIS }, /^\/cluster\/redisURL: /],
  ])('an invalid %s is refused, naming the key (%j)', (_key, patch, expected) => {
    const problems = problemsOf({ env: {}, overrides: enabled(patch) });
    expect(
      problems.some((p) => expected.test(p)),
      problems.join('\n'),
    ).toBe(true);
  });

  it('URLs are checked even while the cluster is off (a typo shows before the switch)', () => {
    expect(problemsOf({ env: {}, overrides: { cluster: { redisUrl: 'redis:/x' } } })).toEqual([
      expect.stringMatching(/^\/cluster\/redisUrl: /),
    ]);
    // …but they are not required then.
    expect(loadConfig({ env: {} }).cluster.redisUrl).toBeNull();
  });

  it('the default node id fits the pattern whatever the host name', () => {
    expect(defaultNodeId('Edge-01.Hanoi.VN', 4242)).toBe('edge-01.hanoi.vn-4242');
    expect(defaultNodeId('máy chủ#1', 7)).toBe('m-y-ch-1-7');
    expect(defaultNodeId('', 7)).toBe('node-7');
    const long = defaultNodeId('h'.repeat(300), 123456);
    expect(long).toHaveLength(64);
    expect(long).toMatch(/^[a-z0-9._-]{1,64}$/);
    expect(long.endsWith('-123456')).toBe(true);
  });
});

const envEnabled = {
  WARDWATCH_CLUSTER_ENABLED: 'true',
  WARDWATCH_CLUSTER_REDIS_URL: REDIS,
  WARDWATCH_CLUSTER_POSTGRES_URL: PG,
};
