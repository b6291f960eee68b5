import { describe, expect, it } from 'vitest';
import { decodeValue } from '../../../devices/protocol/index.ts';
import {
  frigateStats,
  lampShouldBeOn,
  tasmotaSensor,
  tasmotaState,
} from '../../../devices/simulator/stock-firmware.ts';
import { frigate } from '../../../services/ingest/adapters/frigate.ts';
import { tasmota } from '../../../services/ingest/adapters/tasmota.ts';

/** The simulator's emulated payloads go through the service's adapters and schemas. */
describe('simulator stock-firmware payloads → adapters', () => {
  const night = Date.parse('2026-11-27T13:00:00Z'); // 20:00 in Vietnam
  const reading = {
    lampOn: true,
    voltageV: 221.4,
    currentA: 0.418,
    powerW: 92.6,
    energyKwh: 1532.2504,
    uptimeS: 93784,
    rssiDbm: -61,
  };

  it('lamp schedule in Vietnam time', () => {
    expect(lampShouldBeOn(night)).toBe(true);
    expect(lampShouldBeOn(Date.parse('2026-11-27T05:00:00Z'))).toBe(false); // 12:00
  });

  it('Tasmota STATE and SENSOR', () => {
    const dev = { id: 'l', topic: 'tasmota_A1B2C3', tags: {} };
    const s = tasmota(dev, 'tele/tasmota_A1B2C3/STATE', Buffer.from(tasmotaState(reading, night)));
    expect(s).toEqual({
      ok: true,
      messages: [
        { channel: 'heartbeat', value: { uptimeS: 93784, rssiDbm: -61 } },
        { channel: 'telemetry', value: { lampOn: true } },
      ],
    });
    const e = tasmota(dev, 'tele/tasmota_A1B2C3/SENSOR', Buffer.from(tasmotaSensor(reading, night)));
    expect(e).toEqual({
      ok: true,
      messages: [
        { channel: 'telemetry', value: { voltageV: 221, currentA: 0.418, powerW: 93, energyKwh: 1532.25 } },
      ],
    });
    if (e.ok) expect(decodeValue('telemetry', 'light', e.messages[0]?.value).ok).toBe(true);
  });

  it('Frigate stats', () => {
    const r = frigate(
      { id: 'nvr', topic: 'frigate', tags: { 'frigate:a': 'cam-a' } },
      'frigate/stats',
      Buffer.from(
        frigateStats(
          [
            { name: 'a', fps: 5, recording: true },
            { name: 'b', fps: 0, recording: true },
          ],
          71.5,
          60,
        ),
      ),
    );
    expect(r.ok && r.messages.map((m) => [m.deviceId ?? 'nvr', m.channel, m.value])).toEqual([
      ['nvr', 'heartbeat', { uptimeS: 60, fw: '0.14.1-f4f3cfa' }],
      ['nvr', 'telemetry', { storageUsedPct: 71.5 }],
      ['cam-a', 'heartbeat', {}],
      ['cam-a', 'telemetry', { fps: 5, videoLoss: false }],
    ]);
  });
});
