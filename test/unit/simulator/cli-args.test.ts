import { describe, expect, it } from 'vitest';
import { modelClock, parseCliArgs } from '../../../devices/simulator/cli-args.ts';
import { extraStockDevices } from '../../../devices/simulator/extra-devices.ts';
import { DEMO_WARD_FILE } from '../../../devices/simulator/generate-demo-ward.ts';
import { loadWard, validateWard } from '../../../devices/simulator/ward.ts';

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
        tasmota: 0,
        frigateCameras: 0,
      },
    });
  });

  it('--tasmota N and --frigate M (issue #5), also from the environment, within bounds', () => {
    const env = { WARDWATCH_SIM_ADMIN_PASSWORD: 'pw', WARDWATCH_SIM_FRIGATE: '3' };
    expect(parseCliArgs(['--tasmota', '2'], env)).toMatchObject({
      ok: true,
      options: { tasmota: 2, frigateCameras: 3 },
    });
    const bad = parseCliArgs(['--tasmota', 'x', '--frigate', '33'], env);
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.problems).toContain("--tasmota: an integer 0-99, got 'x'");
      expect(bad.problems).toContain("--frigate: an integer 0-32, got '33'");
    }
  });

  it('--tasmota/--frigate devices: valid ward rows, NVR before its cameras, one tag per camera', () => {
    const ward = loadWard(DEMO_WARD_FILE);
    expect(extraStockDevices(ward, 0, 0)).toEqual([]);
    const extra = extraStockDevices(ward, 2, 3);
    expect(extra.map((d) => d.id)).toEqual([
      'sim-tasmota-01',
      'sim-tasmota-02',
      'sim-nvr-01',
      'sim-fcam-01',
      'sim-fcam-02',
      'sim-fcam-03',
    ]);
    // They fit in the ward file schema next to the ward's own devices (unique ids, topics).
    expect(validateWard({ ...ward, devices: [...ward.devices, ...extra] })).toMatchObject({ ok: true });
    expect(extra.filter((d) => d.protocol === 'tasmota').map((d) => d.topic)).toEqual([
      'tasmota_SIM001',
      'tasmota_SIM002',
    ]);
    const nvr = extra[2]!;
    expect(nvr).toMatchObject({ kind: 'gateway', protocol: 'frigate', topic: 'frigate-sim' });
    expect(nvr.tags).toEqual({
      'frigate:camera_01': 'sim-fcam-01',
      'frigate:camera_02': 'sim-fcam-02',
      'frigate:camera_03': 'sim-fcam-03',
    });
    for (const cam of extra.slice(3)) expect(cam).toMatchObject({ kind: 'camera', parentId: 'sim-nvr-01' });
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
