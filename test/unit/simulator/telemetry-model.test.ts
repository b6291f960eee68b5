import { describe, expect, it } from 'vitest';
import { type DeviceKind, decodePayload } from '../../../devices/protocol/index.ts';
import {
  BAD_PAYLOAD_VARIANTS,
  badTelemetryPayload,
  cameraTelemetry,
  heartbeatPayload,
  initialLightMeter,
  type LightMeter,
  lampScheduledOn,
  lightTelemetry,
  localTime,
  type ModelDevice,
  storageUsedPct,
  sunTimes,
} from '../../../devices/simulator/telemetry-model.ts';
import { loadWard } from '../../../devices/simulator/ward.ts';

/** Bình Ngọc, Móng Cái. */
const LAT = 21.5005;
const LON = 107.9755;
const light: ModelDevice = { id: 'bn-light-001', kind: 'light', lat: LAT, lon: LON, tags: { lampW: '100' } };
const camera: ModelDevice = { id: 'bn-cam-001', kind: 'camera', lat: LAT, lon: LON };
const at = (local: string) => Date.parse(`${local}+07:00`);
const HOUR = 3_600_000;

const decode = (channel: 'heartbeat' | 'telemetry', kind: DeviceKind, payload: object | string) =>
  decodePayload(channel, kind, Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)));

describe('local time in Asia/Ho_Chi_Minh', () => {
  it('is UTC+7 and rolls the date at local midnight', () => {
    expect(localTime(Date.parse('2025-12-31T17:30:00Z'))).toEqual({
      date: '2026-01-01',
      hour: 0.5,
      dayOfYear: 1,
    });
    expect(localTime(Date.parse('2025-06-21T05:00:00Z')).hour).toBe(12);
  });
});

describe('sun and street lights at Bình Ngọc', () => {
  it('sunrise and sunset are where they should be for Móng Cái', () => {
    const june = sunTimes(LAT, LON, at('2025-06-21T10:00:00'));
    const december = sunTimes(LAT, LON, at('2025-12-21T10:00:00'));
    // Around 05:05 / 18:35 in June and 06:20 / 17:10 in December, local time.
    expect(june.sunriseMs).toBeGreaterThan(at('2025-06-21T04:55:00'));
    expect(june.sunriseMs).toBeLessThan(at('2025-06-21T05:20:00'));
    expect(june.sunsetMs).toBeGreaterThan(at('2025-06-21T18:20:00'));
    expect(june.sunsetMs).toBeLessThan(at('2025-06-21T18:45:00'));
    expect(december.sunriseMs).toBeGreaterThan(at('2025-12-21T06:10:00'));
    expect(december.sunsetMs).toBeLessThan(at('2025-12-21T17:20:00'));
  });

  it('uses the local day even just after local midnight (still the previous UTC date)', () => {
    const t = sunTimes(LAT, LON, at('2025-06-22T00:30:00'));
    expect(new Date(t.sunriseMs).toISOString().slice(0, 10)).toBe('2025-06-21'); // 05:0x local = 22:0x UTC
    expect(t.sunriseMs).toBeGreaterThan(at('2025-06-22T00:30:00'));
  });

  it.each([
    ['2025-06-21T12:00:00', false],
    ['2025-06-21T07:00:00', false],
    ['2025-06-21T17:30:00', false],
    ['2025-06-21T19:30:00', true],
    ['2025-06-21T23:00:00', true],
    ['2025-06-22T03:00:00', true],
    ['2025-12-21T06:00:00', true],
    ['2025-12-21T07:30:00', false],
    ['2025-12-21T16:30:00', false],
    ['2025-12-21T18:00:00', true],
  ])('at %s local the lamp is on: %s', (local, on) => {
    expect(lampScheduledOn(light, at(local))).toBe(on);
    const { payload } = lightTelemetry(light, at(local), initialLightMeter(light));
    expect(payload.lampOn).toBe(on);
    if (on) {
      expect(payload.powerW).toBeGreaterThan(50);
      expect(payload.powerW).toBeLessThanOrEqual(125);
      expect(payload.lux).toBeLessThan(10);
    } else {
      expect(payload.powerW).toBeLessThan(1);
      expect(payload.lux).toBeGreaterThan(400);
    }
  });

  it('every light of the demo ward is on at 21:00 and off at 13:00 on fixed dates', () => {
    const ward = loadWard('config/demo/binh-ngoc.json');
    for (const d of ward.devices.filter((x) => x.kind === 'light')) {
      for (const date of ['2025-01-15', '2025-04-01', '2025-07-15', '2025-10-01']) {
        expect(lampScheduledOn(d, at(`${date}T21:00:00`)), `${d.id} ${date} night`).toBe(true);
        expect(lampScheduledOn(d, at(`${date}T13:00:00`)), `${d.id} ${date} day`).toBe(false);
      }
    }
  });

  it('dims late at night and runs at 60–120 W, 220 V ± 5 % when on', () => {
    const evening = lightTelemetry(light, at('2025-06-21T20:00:00'), initialLightMeter(light)).payload;
    const lateNight = lightTelemetry(light, at('2025-06-22T01:00:00'), initialLightMeter(light)).payload;
    expect(evening.dimPct).toBe(100);
    expect(lateNight.dimPct).toBe(60);
    expect(evening.powerW).toBeGreaterThan(lateNight.powerW ?? 0);
    for (const p of [evening, lateNight]) {
      expect(p.voltageV).toBeGreaterThanOrEqual(209);
      expect(p.voltageV).toBeLessThanOrEqual(231);
      expect(p.currentA).toBeCloseTo((p.powerW ?? 0) / ((p.voltageV ?? 220) * 0.95), 2);
    }
  });

  it('lamp_failure: lamp off and ~0 W at night', () => {
    const { payload } = lightTelemetry(light, at('2025-06-21T21:00:00'), initialLightMeter(light), {
      lampFailure: true,
    });
    expect(payload.lampOn).toBe(false);
    expect(payload.powerW).toBeLessThan(1);
  });

  it('energy accumulates with the lamp power, and only goes up', () => {
    let meter: LightMeter = initialLightMeter(light);
    const start = meter.energyKwh;
    // One night, readings every 10 minutes from 19:00 to 05:00.
    for (let t = at('2025-06-21T19:00:00'); t <= at('2025-06-22T05:00:00'); t += 10 * 60_000) {
      const r = lightTelemetry(light, t, meter);
      expect(r.payload.energyKwh).toBeGreaterThanOrEqual(meter.energyKwh);
      meter = r.meter;
    }
    // 100 W for ~3 h then 60 W for 6 h then 100 W for ~1 h: about 0.76 kWh.
    expect(meter.energyKwh - start).toBeGreaterThan(0.6);
    expect(meter.energyKwh - start).toBeLessThan(0.9);
  });
});

describe('cameras', () => {
  it('record by default, at 15–25 fps, with a plausible bitrate and temperature', () => {
    for (let h = 0; h < 24; h++) {
      const p = cameraTelemetry(camera, at('2025-07-15T00:00:00') + h * HOUR);
      expect(p.recording).toBe(true);
      expect(p.fps).toBeGreaterThanOrEqual(14);
      expect(p.fps).toBeLessThanOrEqual(25);
      expect(p.bitrateKbps).toBeGreaterThan(1000);
      expect(p.bitrateKbps).toBeLessThan(5000);
      expect(p.temperatureC).toBeGreaterThan(20);
      expect(p.temperatureC).toBeLessThan(50);
    }
  });

  it('housing temperature follows a daily curve (afternoon warmer than before dawn) and the season', () => {
    const t = (local: string) => cameraTelemetry(camera, at(local)).temperatureC ?? 0;
    expect(t('2025-07-15T14:00:00')).toBeGreaterThan(t('2025-07-15T04:00:00') + 5);
    expect(t('2025-07-15T14:00:00')).toBeGreaterThan(t('2025-01-15T14:00:00') + 8);
  });

  it('storage rises slowly and wraps like a ring buffer', () => {
    const start = at('2025-01-01T00:00:00');
    let previous = storageUsedPct(camera.id, start);
    let wraps = 0;
    // 120 days hour by hour: at most 0.2 %/h, so at least one full cycle (90 points).
    for (let h = 1; h <= 120 * 24; h++) {
      const v = storageUsedPct(camera.id, start + h * HOUR);
      expect(v).toBeGreaterThanOrEqual(5);
      expect(v).toBeLessThan(95);
      if (v < previous) {
        wraps++;
        expect(previous - v).toBeGreaterThan(80);
      } else expect(v - previous).toBeLessThanOrEqual(0.21);
      previous = v;
    }
    expect(wraps).toBeGreaterThanOrEqual(1);
  });

  it('not_recording: recording false, nothing written', () => {
    const p = cameraTelemetry(camera, at('2025-07-15T10:00:00'), { notRecording: true });
    expect(p.recording).toBe(false);
    expect(p.bitrateKbps).toBe(0);
  });
});

describe('payloads pass the protocol decoder', () => {
  const ward = loadWard('config/demo/binh-ngoc.json');
  const times = Array.from({ length: 48 }, (_, i) => at('2025-03-10T00:00:00') + i * 30 * 60_000);

  it('telemetry of every demo device, every half hour for a day, faults included', () => {
    // The NVR (a gateway, issue #12) reports through the Frigate emulation, not this model.
    for (const d of ward.devices.filter((x) => x.kind !== 'gateway')) {
      let meter = initialLightMeter(d);
      for (const now of times) {
        const ts = new Date(now).toISOString();
        for (const conditions of [{}, { lampFailure: true, notRecording: true }]) {
          let payload: object;
          if (d.kind === 'camera') payload = { ts, ...cameraTelemetry(d, now, conditions) };
          else {
            const r = lightTelemetry(d, now, meter, conditions);
            meter = r.meter;
            payload = { ts, ...r.payload };
          }
          const result = decode('telemetry', d.kind, payload);
          expect(result, `${d.id} ${ts} ${JSON.stringify(payload)}`).toMatchObject({ ok: true });
          if (result.ok)
            expect(result.message.channel === 'telemetry' && result.message.droppedFields).toEqual([]);
        }
      }
    }
  });

  it('heartbeats', () => {
    for (const d of ward.devices) {
      const p = heartbeatPayload(d, { seq: 41, bootMs: times[0] ?? 0, wallMs: (times[0] ?? 0) + 3_723_000 });
      expect(p).toMatchObject({ seq: 41, uptimeS: 3723 });
      expect(p.rssiDbm).toBeLessThanOrEqual(-30);
      expect(p.rssiDbm).toBeGreaterThanOrEqual(-110);
      const r = decode('heartbeat', d.kind, p);
      expect(r.ok && r.message.channel === 'heartbeat' && r.message.droppedFields).toEqual([]);
    }
  });

  it.each(BAD_PAYLOAD_VARIANTS.flatMap((v) => (['camera', 'light'] as const).map((k) => [v, k] as const)))(
    'bad_payload %s (%s) is rejected',
    (variant, kind) => {
      const r = decode('telemetry', kind, badTelemetryPayload(kind, variant));
      expect(r.ok).toBe(false);
    },
  );
});
