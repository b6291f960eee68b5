import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { ADMIN_PASSWORD, waitFor } from '../../helpers/app.ts';
import { freePort, uniqueDatabaseName } from '../../helpers/influxd.ts';

/**
 * Issue #15: `npm start`, the demo and the Docker image run the compiled service
 * (`node dist/services/main.js`). This builds it the way they do (scripts/build.sh, skipped when
 * dist/ is newer than the sources; so the suite does not depend on a dist/ being there) and starts
 * it from another working directory: what it reads beside the code (config/default.yaml, the web
 * build, the ward outlines) must be found from the checkout, not from `..` of a compiled module.
 */
const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..', '..');
const influxBase = inject('influxUrl');

describe('the compiled service (npm run build → node dist/services/main.js)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ww-compiled-'));
  let child: ChildProcess | null = null;
  let output = '';
  let httpUrl = '';
  let mqttPort = 0;

  beforeAll(async () => {
    // tsc on a busy 2-core machine: minutes, not seconds.
    await run('bash', ['scripts/build.sh', '--if-stale'], { cwd: ROOT, timeout: 600_000 });
    const httpPort = await freePort();
    mqttPort = await freePort();
    httpUrl = `http://127.0.0.1:${httpPort}`;
    const configFile = join(dir, 'config.yaml');
    writeFileSync(
      configFile,
      stringify({
        host: '127.0.0.1',
        httpPort,
        mqttPort,
        dataDir: join(dir, 'data'),
        adminPassword: ADMIN_PASSWORD,
        influx: { url: `${influxBase}/${uniqueDatabaseName('compiled')}` },
      }),
    );
    child = spawn(process.execPath, [join(ROOT, 'dist/services/main.js')], {
      cwd: dir,
      env: { ...process.env, WARDWATCH_CONFIG: configFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    await waitFor(
      async () => {
        if (child?.exitCode !== null) throw new Error(`exited at start:\n${output.slice(-3000)}`);
        return (await fetch(`${httpUrl}/healthz`)).status === 200;
      },
      'compiled service serving /healthz',
      60_000,
    );
  }, 660_000);

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child?.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('is built into dist/ and marked fresh (the next npm start does not rebuild)', async () => {
    expect(existsSync(join(ROOT, 'dist/services/main.js'))).toBe(true);
    expect(existsSync(join(ROOT, 'dist/devices/simulator/cli.js'))).toBe(true);
    const fresh = await run(
      'bash',
      ['-c', '. scripts/lib/common.sh && . scripts/lib/build.sh && ww_build_is_fresh && echo fresh'],
      { cwd: ROOT },
    );
    expect(fresh.stdout.trim()).toBe('fresh');
  });

  it('serves the API, the web app and MQTT, with the defaults and wards from the checkout', async () => {
    const login = await fetch(`${httpUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
    });
    expect(login.status).toBe(200);
    const { token } = (await login.json()) as { token: string };
    // config/default.yaml's web.wardOutlines, read relative to the checkout: the demo ward.
    const wards = await fetch(`${httpUrl}/api/v1/wards`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await wards.json()) as { items: Array<{ id: string }> }).items.map((w) => w.id)).toContain(
      'binh-ngoc',
    );
    // dist/web, found from the checkout (not dist/dist/web).
    const page = await fetch(`${httpUrl}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>wardwatch</title>');
    // The broker answers: an unknown device is refused with CONNACK 5 (not authorized).
    const refused = await new Promise<number | undefined>((resolve) => {
      const c = mqtt.connect(`mqtt://127.0.0.1:${mqttPort}`, {
        clientId: 'nobody',
        username: 'nobody',
        password: 'wrong',
        reconnectPeriod: 0,
      });
      c.once('error', (err) => {
        c.end(true);
        resolve((err as Error & { code?: number }).code);
      });
      c.once('connect', () => {
        c.end(true);
        resolve(0);
      });
    });
    expect(refused).toBe(5);
  });

  it('stops gracefully on SIGTERM (exit code 0)', async () => {
    const exited = new Promise<number | null>((r) => child?.once('exit', (code) => r(code)));
    child?.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('wardwatch stopped');
  });
});
