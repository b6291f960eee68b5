import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { publish, startTestApp, type TestApp, waitFor } from '../../helpers/app.ts';

const T = (id: string, ch: string) => `wardwatch/v1/devices/${id}/${ch}`;

interface AlertJson {
  id: number;
  deviceId: string;
  type: string;
  severity: string;
  state: string;
  resolvedBy: string | null;
  note: string | null;
  message: string;
  suppressedBy: unknown;
  assignee: string | null;
  incidentId: number | null;
}

/**
 * Fault rules end to end: real broker, MQTT.js devices, SQLite, InfluxDB. One service for the
 * file; each test uses its own devices.
 */
describe('fault rules over MQTT', () => {
  const influx = inject('influxUrl');
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ influxBaseUrl: influx, overrides: { rules: { evaluateIntervalS: 1 } } });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const alertsOf = async (deviceId: string, state = '') =>
    (
      await t.api<{ items: AlertJson[] }>(
        'GET',
        `/api/v1/alerts?deviceId=${deviceId}${state ? `&state=${state}` : ''}`,
      )
    ).body.items;
  const addDevice = async (body: Record<string, unknown>) => {
    const res = await t.api<{ secret: string }>('POST', '/api/v1/devices', {
      body: { kind: 'camera', ward: 'binh-ngoc', name: `Test ${body.id}`, lat: 21.53, lon: 107.96, ...body },
    });
    if (res.status !== 201) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
    return t.connectDevice(body.id as string, res.body.secret);
  };

  it('camera storage 95 % → warning, 99 % → critical, 50 % → resolved by system', async () => {
    const c = await addDevice({ id: 'cam-st' });
    await publish(c, T('cam-st', 'telemetry'), '{"storageUsedPct":95}');
    const [warn] = await waitFor(async () => {
      const open = await alertsOf('cam-st', 'open');
      return open.length === 1 ? open : null;
    }, 'warning');
    expect(warn).toMatchObject({
      type: 'camera_storage_high',
      severity: 'warning',
      state: 'open',
      suppressedBy: null,
    });
    expect(warn?.message).toMatch(/95% full/);

    await publish(c, T('cam-st', 'telemetry'), '{"storageUsedPct":99}');
    const crit = await waitFor(
      async () => (await alertsOf('cam-st', 'open')).find((a) => a.severity === 'critical'),
      'critical',
    );
    expect(crit.id).not.toBe(warn?.id);
    const all = await alertsOf('cam-st');
    expect(all.find((a) => a.id === warn?.id)).toMatchObject({
      state: 'resolved',
      resolvedBy: 'system',
      note: 'severity changed to critical',
    });

    await publish(c, T('cam-st', 'telemetry'), '{"storageUsedPct":50}');
    await waitFor(async () => (await alertsOf('cam-st', 'open')).length === 0, 'cleared');
    expect((await alertsOf('cam-st')).find((a) => a.id === crit.id)).toMatchObject({
      state: 'resolved',
      resolvedBy: 'system',
    });
  });

  it('camera_not_recording after 2 reports; video loss and tamper by events; tamper needs a note to resolve', async () => {
    const c = await addDevice({ id: 'cam-ev' });
    await publish(c, T('cam-ev', 'telemetry'), '{"recording":false}');
    await publish(c, T('cam-ev', 'telemetry'), '{"recording":false}');
    await publish(c, T('cam-ev', 'event'), '{"type":"video_loss"}');
    await publish(c, T('cam-ev', 'event'), '{"type":"tamper","detail":"housing opened"}');
    const open = await waitFor(async () => {
      const a = await alertsOf('cam-ev', 'open');
      return a.length === 3 ? a : null;
    }, 'three alerts');
    expect(open.map((a) => a.type).sort()).toEqual([
      'camera_not_recording',
      'camera_tamper',
      'camera_video_loss',
    ]);

    await publish(c, T('cam-ev', 'telemetry'), '{"recording":true,"videoLoss":false,"tamper":false}');
    await waitFor(async () => (await alertsOf('cam-ev', 'open')).length === 1, 'two cleared');
    const tamper = (await alertsOf('cam-ev', 'open'))[0] as AlertJson;
    expect(tamper.type).toBe('camera_tamper'); // never clears itself

    const noNote = await t.api<{ error: string; message: string }>(
      'POST',
      `/api/v1/alerts/${tamper.id}/resolve`,
    );
    expect(noNote.status).toBe(400);
    expect(noNote.body.message).toMatch(/^note: /);
    const ok = await t.api<AlertJson>('POST', `/api/v1/alerts/${tamper.id}/resolve`, {
      body: { note: 'housing closed, view checked' },
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ state: 'resolved', resolvedBy: 'admin' });
  });

  it('camera_clock_skew: a device ts 5 min off opens it; a correct ts clears it', async () => {
    const c = await addDevice({ id: 'cam-clk' });
    await publish(c, T('cam-clk', 'heartbeat'), JSON.stringify({ ts: Date.now() - 300_000 }));
    const [a] = await waitFor(async () => {
      const x = await alertsOf('cam-clk', 'open');
      return x.length ? x : null;
    }, 'skew');
    expect(a).toMatchObject({ type: 'camera_clock_skew', severity: 'minor' });
    await publish(c, T('cam-clk', 'heartbeat'), JSON.stringify({ ts: new Date().toISOString() }));
    await waitFor(async () => (await alertsOf('cam-clk', 'open')).length === 0, 'skew cleared');
  });

  it('lamp_day_burning: lit outside its schedule longer than its (per-device) minimum → alert; off clears', async () => {
    // A schedule that is "off" now: on from 3 h to 4 h from now, local time.
    const hhmm = (ms: number) =>
      new Intl.DateTimeFormat('en-GB', {
        timeZone: 'Asia/Ho_Chi_Minh',
        hour: '2-digit',
        minute: '2-digit',
        hourCycle: 'h23',
      }).format(ms);
    const schedule = `${hhmm(Date.now() + 3 * 3600_000)}-${hhmm(Date.now() + 4 * 3600_000)}`;
    const c = await addDevice({
      id: 'light-day',
      kind: 'light',
      tags: { schedule, 'rule.lamp_day_burning.minDurationS': '1' },
    });
    await publish(c, T('light-day', 'telemetry'), '{"lampOn":true,"powerW":92,"voltageV":221}');
    // The 1 s evaluation tick finds it lit for more than 1 s: waited for as the alert itself (issue
    // #13 item 4: no sleep; a busy machine makes the tick later, not the alert wrong).
    const [a] = await waitFor(async () => {
      const x = await alertsOf('light-day', 'open');
      return x.length ? x : null;
    }, 'day burning');
    expect(a).toMatchObject({ type: 'lamp_day_burning', severity: 'minor' });
    await publish(c, T('light-day', 'telemetry'), '{"lampOn":false,"powerW":0}');
    await waitFor(async () => (await alertsOf('light-day', 'open')).length === 0, 'cleared');
  });

  it('lamp_failure when it should be on; supply voltage outside 198–242 V', async () => {
    const c = await addDevice({ id: 'light-fail', kind: 'light', tags: { schedule: '00:00-23:59' } });
    // 23:59–00:00 is the only "off" minute; skip the test then rather than flake
    if (new Date().getUTCHours() === 16 && new Date().getUTCMinutes() === 59) return;
    await publish(c, T('light-fail', 'telemetry'), '{"lampOn":false,"powerW":0,"voltageV":250}');
    await publish(c, T('light-fail', 'telemetry'), '{"lampOn":false,"powerW":0,"voltageV":250}');
    const open = await waitFor(async () => {
      const x = await alertsOf('light-fail', 'open');
      return x.length === 2 ? x : null;
    }, 'lamp failure + voltage');
    expect(open.map((a) => a.type).sort()).toEqual(['lamp_failure', 'supply_voltage_abnormal']);
  });

  it('bad rule tags and schedules are 400 naming the field', async () => {
    const bad = await t.api<{ message: string }>('POST', '/api/v1/devices', {
      body: {
        id: 'light-bad',
        kind: 'light',
        name: 'x',
        ward: 'binh-ngoc',
        lat: 21.5,
        lon: 107.9,
        tags: { schedule: '6pm-6am' },
      },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/^tags\.schedule: /);
    const badRule = await t.api<{ message: string }>('POST', '/api/v1/devices', {
      body: {
        id: 'light-bad',
        kind: 'light',
        name: 'x',
        ward: 'binh-ngoc',
        lat: 21.5,
        lon: 107.9,
        tags: { 'rule.lamp_failure.minPowerW': 'high' },
      },
    });
    expect(badRule.status).toBe(400);
    expect(badRule.body.message).toMatch(/^tags\.rule\.lamp_failure\.minPowerW: /);
  });
});
