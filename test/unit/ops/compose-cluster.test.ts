import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_ENV_VARIABLES, type Config, loadConfig } from '../../../services/core/config.ts';

/**
 * docker-compose.cluster.yml (issue #14, docs/cluster-guide.md) cannot be run here (no Docker
 * daemon, no `docker compose`): instead every wardwatch node's environment, with the Dockerfile's
 * ENV under it, goes through the service's own loadConfig, and the balancer's servers are checked
 * against the nodes' roles and ports, so neither file can silently drift from the config loader.
 */
const root = join(import.meta.dirname, '..', '..', '..');
const compose = parse(readFileSync(join(root, 'docker-compose.cluster.yml'), 'utf8'), { merge: true }) as {
  services: Record<
    string,
    {
      build?: string;
      image?: string;
      environment?: Record<string, string>;
      volumes?: string[];
      depends_on?: Record<string, unknown> | string[];
    }
  >;
};

/** `${VAR:-default}` as compose resolves it with VAR unset. */
const interpolate = (v: string) => v.replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1');

/** The ENV of the Dockerfile's last stage (what every node's container starts with). */
function dockerfileEnv(): Record<string, string> {
  const text = readFileSync(join(root, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const lastStage = text.slice(text.lastIndexOf('\nFROM '));
  const env: Record<string, string> = {};
  for (const line of lastStage.split('\n'))
    if (line.startsWith('ENV '))
      for (const m of line.slice(4).matchAll(/([A-Z0-9_]+)=(\S+)/g)) env[m[1] as string] = m[2] as string;
  return env;
}

const nodes = Object.entries(compose.services).filter(([, s]) => s.image === 'wardwatch:local');
const configs = new Map<string, Config>();
for (const [name, s] of nodes) {
  const env = {
    ...dockerfileEnv(),
    ...Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))])),
  };
  configs.set(name, loadConfig({ env }));
}
const byRole = (role: 'edge' | 'core' | 'api') =>
  [...configs].filter(([, c]) => c.cluster.roles.includes(role)).map(([name]) => name);

describe('docker-compose.cluster.yml', () => {
  it('has two edges, one core and one API node, each built from the Dockerfile', () => {
    expect(nodes.map(([n]) => n).sort()).toEqual(['api-1', 'core-1', 'edge-1', 'edge-2']);
    for (const [, s] of nodes) expect(s.build).toBe('.');
    expect(compose.services.postgres?.image).toBe('postgres:15');
    expect(compose.services.influxdb?.image).toMatch(/^influxdb:1\./);
    expect(compose.services.redis?.image).toMatch(/^redis:/);
  });

  it('sets only environment variables the config loader reads', () => {
    const known = new Set([...CONFIG_ENV_VARIABLES, 'WARDWATCH_CONFIG']);
    for (const [name, s] of nodes)
      for (const key of Object.keys(s.environment ?? {}))
        if (key.startsWith('WARDWATCH_')) expect(known, `${name}: ${key}`).toContain(key);
  });

  it('gives each node, through loadConfig, cluster mode with the role its name says and its own id', () => {
    for (const [name, c] of configs) {
      expect(c.cluster.enabled, name).toBe(true);
      expect(c.cluster.roles, name).toEqual([name.replace(/-\d+$/, '')]);
      expect(c.cluster.nodeId, name).toBe(name);
      expect(c.host, name).toBe('0.0.0.0');
      expect(c.dataDir, name).toBe('/data');
    }
    expect(byRole('edge')).toEqual(['edge-1', 'edge-2']);
    expect(byRole('core')).toEqual(['core-1']);
    expect(byRole('api')).toEqual(['api-1']);
  });

  it('points every node at the same servers, partitions and database user, all defined here', () => {
    const first = configs.get('edge-1') as Config;
    for (const [name, c] of configs) {
      expect(c.cluster.redisUrl, name).toBe(first.cluster.redisUrl);
      expect(c.cluster.postgresUrl, name).toBe(first.cluster.postgresUrl);
      expect(c.cluster.partitions, name).toBe(first.cluster.partitions);
      expect(c.influx.url, name).toBe(first.influx.url);
      expect(Object.keys(compose.services[name]?.depends_on ?? {}).sort(), name).toEqual([
        'influxdb',
        'postgres',
        'redis',
      ]);
      // Each node's write-ahead log and SQLite on a volume of its own.
      expect(compose.services[name]?.volumes, name).toEqual([`${name}-data:/data`]);
    }
    const pg = new URL(first.cluster.postgresUrl as string);
    const pgEnv = compose.services.postgres?.environment ?? {};
    expect(pg.hostname).toBe('postgres');
    expect(pg.username).toBe(pgEnv.POSTGRES_USER);
    expect(decodeURIComponent(pg.password)).toBe(interpolate(String(pgEnv.POSTGRES_PASSWORD)));
    expect(pg.pathname).toBe(`/${pgEnv.POSTGRES_DB}`);
    expect(new URL(first.cluster.redisUrl as string).hostname).toBe('redis');
    expect(new URL(first.influx.url).hostname).toBe('influxdb');
  });

  it('balances MQTT over the edges and HTTP over the API nodes, on the ports their configs say', () => {
    const mount = compose.services.balancer?.volumes?.[0] ?? '';
    const cfgPath = join(root, mount.split(':')[0] as string);
    expect(existsSync(cfgPath), mount).toBe(true);
    const backends = new Map<string, string[]>();
    let current: string | null = null;
    for (const line of readFileSync(cfgPath, 'utf8').split('\n')) {
      const b = /^backend\s+(\S+)/.exec(line);
      if (b) {
        current = b[1] as string;
        backends.set(current, []);
      } else if (/^\S/.test(line)) current = null;
      const server = /^\s+server\s+\S+\s+(\S+)/.exec(line);
      if (server && current) backends.get(current)?.push(server[1] as string);
    }
    const targets = (names: string[], port: (c: Config) => number) =>
      names.map((n) => `${n}:${port(configs.get(n) as Config)}`);
    expect(backends.get('edges_mqtt')).toEqual(targets(byRole('edge'), (c) => c.mqttPort));
    expect(backends.get('edges_ws')).toEqual(targets(byRole('edge'), (c) => c.httpPort));
    expect(backends.get('api')).toEqual(targets(byRole('api'), (c) => c.httpPort));
  });
});
