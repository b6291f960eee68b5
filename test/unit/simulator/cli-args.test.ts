import { describe, expect, it } from 'vitest';
import { modelClock, parseCliArgs } from '../../../devices/simulator/cli-args.ts';

describe('simulator options', () => {
  it('defaults, with the password from the environment', () => {
    const r = parseCliArgs([], { WARDWATCH_ADMIN_PASSWORD: 'from-service-env' });
    expect(r).toMatchObject({
      ok: true,
      options: {
        ward: 'config/demo/binh-ngoc.json',
        apiUrl: 'http://127.0.0.1:8080',
        mqttUrl: 'mqtt://127.0.0.1:1883',
        adminUser: 'admin',
        adminPassword: 'from-service-env',
        speed: 1,
        controlHost: '127.0.0.1',
        controlPort: 8090,
        faults: [],
        count: null,
      },
    });
  });

  it('command line beats WARDWATCH_SIM_* beats defaults; faults from both', () => {
    const r = parseCliArgs(
      [
        '--api',
        'http://wardwatch:8080',
        '--speed',
        '60',
        '--fault',
        'silence:bn-cam-003@30s',
        '--control-port',
        '0',
      ],
      {
        WARDWATCH_SIM_API: 'http://ignored:1',
        WARDWATCH_SIM_ADMIN_PASSWORD: 'pw',
        WARDWATCH_SIM_COUNT: '20',
        WARDWATCH_SIM_FAULTS: 'power_cut:tram-bn-3@2m restore:all@5m',
      },
    );
    if (!r.ok) throw new Error(r.problems.join('; '));
    expect(r.options.apiUrl).toBe('http://wardwatch:8080');
    // The broker defaults to the API's host.
    expect(r.options.mqttUrl).toBe('mqtt://wardwatch:1883');
    expect(r.options.count).toBe(20);
    expect(r.options.controlPort).toBe(0);
    expect(r.options.faults.map((f) => `${f.type}:${f.target}@${f.delayMs}`)).toEqual([
      'silence:bn-cam-003@30000',
      'power_cut:tram-bn-3@120000',
      'restore:all@300000',
    ]);
  });

  it('reports every problem at once', () => {
    const r = parseCliArgs(
      ['--speed', '0', '--count', 'x', '--fault', 'boom:x', '--control-port', '70000'],
      {},
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toHaveLength(5);
    expect(r.problems.join('\n')).toMatch(/admin-password/);
  });

  it('--control-port off, --help', () => {
    expect(parseCliArgs(['--control-port', 'off'], { WARDWATCH_ADMIN_PASSWORD: 'x' })).toMatchObject({
      ok: true,
      options: { controlPort: null },
    });
    expect(parseCliArgs(['-h'], {})).toEqual({ ok: false, help: true, problems: [] });
  });

  it('the model clock runs N times faster from its start', () => {
    let wall = 1_000_000;
    const now = modelClock(60, Date.parse('2025-01-15T18:00:00+07:00'), () => wall);
    expect(now()).toBe(Date.parse('2025-01-15T18:00:00+07:00'));
    wall += 60_000;
    expect(now()).toBe(Date.parse('2025-01-15T19:00:00+07:00'));
  });
});
