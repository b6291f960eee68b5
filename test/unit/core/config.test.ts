import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, parseInfluxUrl } from '../../../services/core/config.ts';
import { ConfigError } from '../../../services/core/errors.ts';

const run = promisify(execFile);
const dirs: string[] = [];
const tempFile = (name: string, text: string) => {
  const dir = mkdtempSync(join(tmpdir(), 'ww-config-'));
  dirs.push(dir);
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('loadConfig', () => {
  it('defaults come from config/default.yaml', () => {
    const c = loadConfig({ env: {} });
    expect(c).toMatchObject({
      httpPort: 8080,
      mqttPort: 1883,
      logLevel: 'info',
      adminPassword: null,
      influx: { url: 'http://127.0.0.1:8086/wardwatch', batchSize: 5000, flushIntervalMs: 1000 },
      liveness: { missedHeartbeats: 3, heartbeatIntervalS: { camera: 30, light: 60 } },
      alerts: { offlineSeverity: { camera: 'critical', light: 'major' } },
    });
    expect(c.dataDir).toMatch(/\/data$/);
  });

  it('checks its time zones without ICU, and still refuses an unknown one (issue #15)', () => {
    // Any Intl.DateTimeFormat pages ~5 MiB of ICU data into the process for good
    // (bench/results/2026-12-03-wardrss.md); the zones come from the system's zone files.
    const Real = Intl.DateTimeFormat;
    let constructed = 0;
    Intl.DateTimeFormat = new Proxy(Real, {
      construct(target, args, newTarget) {
        constructed++;
        return Reflect.construct(target, args, newTarget);
      },
    });
    try {
      loadConfig({ env: {}, overrides: { rules: { lightSchedule: { timezone: 'Europe/Berlin' } } } });
      expect(constructed).toBe(0);
    } finally {
      Intl.DateTimeFormat = Real;
    }
    expect(() =>
      loadConfig({ env: {}, overrides: { rules: { lightSchedule: { timezone: 'Mars/Olympus' } } } }),
    ).toThrow("/rules/lightSchedule/timezone: unknown time zone 'Mars/Olympus'");
    // Issue #15: usage is written at a rule tick, so its interval is a whole number of them.
    expect(() => loadConfig({ env: {}, overrides: { rules: { usageIntervalS: 45 } } })).toThrow(
      '/rules/usageIntervalS: must be a multiple of evaluateIntervalS (30)',
    );
    expect(loadConfig({ env: {}, overrides: { rules: { usageIntervalS: 60 } } }).rules.usageIntervalS).toBe(
      60,
    );
  });

  it('file (WARDWATCH_CONFIG) then env override the defaults', () => {
    const file = tempFile('ww.yaml', 'httpPort: 9000\nliveness:\n  missedHeartbeats: 5\n');
    const c = loadConfig({
      env: {
        WARDWATCH_CONFIG: file,
        WARDWATCH_HTTP_PORT: '9100',
        WARDWATCH_MQTT_PORT: '2883',
        WARDWATCH_HOST: '127.0.0.1',
        WARDWATCH_INFLUX_URL: 'http://influx.local:8086/ward1',
        WARDWATCH_DATA_DIR: '/tmp/ww-x',
        WARDWATCH_ADMIN_PASSWORD: 'long-enough',
        WARDWATCH_LOG_LEVEL: 'debug',
      },
    });
    expect(c).toMatchObject({
      httpPort: 9100,
      mqttPort: 2883,
      host: '127.0.0.1',
      dataDir: '/tmp/ww-x',
      adminPassword: 'long-enough',
      logLevel: 'debug',
      liveness: { missedHeartbeats: 5, heartbeatIntervalS: { camera: 30, light: 60 } },
      influx: { url: 'http://influx.local:8086/ward1' },
    });
  });

  it('reports every problem at once, including unknown keys (typos)', () => {
    const file = tempFile(
      'bad.yaml',
      'liveness:\n  missedHeartbeat: 3\nalerts:\n  offlineSeverity:\n    camera: urgent\n',
    );
    let error: unknown;
    try {
      loadConfig({
        env: { WARDWATCH_CONFIG: file, WARDWATCH_HTTP_PORT: 'eighty', WARDWATCH_INFLUX_URL: 'influx' },
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toContain("WARDWATCH_HTTP_PORT: expected an integer, got 'eighty'");
    expect(problems).toContain('/influx/url');
    expect(problems).toContain('/alerts/offlineSeverity/camera');
    expect(problems).toMatch(/\/liveness.*missedHeartbeat/);
  });

  it('a missing or unparsable config file is a problem, not a crash', () => {
    expect(() => loadConfig({ env: { WARDWATCH_CONFIG: '/nonexistent/ww.yaml' } })).toThrow(/cannot read/);
    const file = tempFile('broken.yaml', 'httpPort: [1, 2\n');
    expect(() => loadConfig({ env: { WARDWATCH_CONFIG: file } })).toThrow(/invalid YAML/);
  });

  it('the influx URL path is the database', () => {
    expect(parseInfluxUrl('http://127.0.0.1:8086/wardwatch')).toMatchObject({
      host: '127.0.0.1',
      port: 8086,
      database: 'wardwatch',
    });
  });

  it('the service exits non-zero listing every problem on an invalid config', async () => {
    const result = await run('node', ['--import', 'tsx', 'services/main.ts'], {
      env: { ...process.env, WARDWATCH_HTTP_PORT: 'x', WARDWATCH_LOG_LEVEL: 'loud', WARDWATCH_CONFIG: '' },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('WARDWATCH_HTTP_PORT');
    expect(result.stderr).toContain('/logLevel');
  });
});
