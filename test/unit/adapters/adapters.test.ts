import { describe, expect, it } from 'vitest';
import { decodeValue } from '../../../devices/protocol/index.ts';
import { esphome } from '../../../services/ingest/adapters/esphome.ts';
import { frigate } from '../../../services/ingest/adapters/frigate.ts';
import { shellyGen2 } from '../../../services/ingest/adapters/shelly-gen2.ts';
import { tasmota } from '../../../services/ingest/adapters/tasmota.ts';
import type { AdapterResult } from '../../../services/ingest/adapters/types.ts';
import { frigateFx as F, shelly as S, tasmota as T } from '../../fixtures/firmware.ts';

const b = (s: string) => Buffer.from(s);
const tas = { id: 'light-t1', topic: T.topic, tags: {} };
const shl = { id: 'light-s1', topic: S.prefix, tags: {} };

/** The mapped messages, each checked against the protocol schema exactly as ingest does. */
function valid(r: AdapterResult) {
  expect(r.ok, JSON.stringify(r)).toBe(true);
  if (!r.ok) return [];
  for (const m of r.messages) expect(decodeValue(m.channel, 'light', m.value)).toMatchObject({ ok: true });
  return r.messages.map((m) => ({ channel: m.channel, value: m.value }));
}

describe('Tasmota adapter', () => {
  it('LWT Online / Offline → status; anything else is rejected as a bad status', () => {
    expect(valid(tasmota(tas, `tele/${T.topic}/LWT`, b(T.lwtOnline)))).toEqual([
      { channel: 'status', value: 'online' },
    ]);
    expect(valid(tasmota(tas, `tele/${T.topic}/LWT`, b(T.lwtOffline)))).toEqual([
      { channel: 'status', value: 'offline' },
    ]);
    expect(tasmota(tas, `tele/${T.topic}/LWT`, b('online'))).toMatchObject({
      ok: false,
      reason: /^status must/,
    });
  });

  it('STATE → heartbeat (UptimeSec, Wifi.Signal) and telemetry lampOn', () => {
    expect(valid(tasmota(tas, `tele/${T.topic}/STATE`, b(T.state)))).toEqual([
      { channel: 'heartbeat', value: { uptimeS: 3605, rssiDbm: -61 } },
      { channel: 'telemetry', value: { lampOn: true } },
    ]);
  });

  it('STATE of older firmware: Uptime "1T02:03:04" and RSSI quality % → dBm', () => {
    expect(valid(tasmota(tas, `tele/${T.topic}/STATE`, b(T.stateOld)))).toEqual([
      { channel: 'heartbeat', value: { uptimeS: 86400 + 2 * 3600 + 3 * 60 + 4, rssiDbm: -65 } },
      { channel: 'telemetry', value: { lampOn: false } },
    ]);
  });

  it('SENSOR ENERGY → voltageV, currentA, powerW, energyKwh (new and old firmware)', () => {
    expect(valid(tasmota(tas, `tele/${T.topic}/SENSOR`, b(T.sensor)))).toEqual([
      { channel: 'telemetry', value: { voltageV: 221, currentA: 0.42, powerW: 92, energyKwh: 1532.25 } },
    ]);
    expect(valid(tasmota(tas, `tele/${T.topic}/SENSOR`, b(T.sensorOld)))).toEqual([
      { channel: 'telemetry', value: { voltageV: 0, currentA: 0, powerW: 0, energyKwh: 12.5 } },
    ]);
    // a SENSOR without ENERGY (a temperature probe) means nothing here
    expect(tasmota(tas, `tele/${T.topic}/SENSOR`, b('{"DS18B20":{"Temperature":31.2}}'))).toEqual({
      ok: true,
      messages: [],
    });
  });

  it('stat POWER and RESULT → lampOn; INFO1 → fw', () => {
    expect(valid(tasmota(tas, `stat/${T.topic}/POWER`, b(T.statPower)))).toEqual([
      { channel: 'telemetry', value: { lampOn: false } },
    ]);
    expect(valid(tasmota(tas, `stat/${T.topic}/RESULT`, b(T.statResult)))).toEqual([
      { channel: 'telemetry', value: { lampOn: true } },
    ]);
    expect(valid(tasmota(tas, `tele/${T.topic}/INFO1`, b(T.info1)))).toEqual([
      { channel: 'heartbeat', value: { fw: '13.2.0(tasmota)' } },
    ]);
    expect(tasmota(tas, `stat/${T.topic}/POWER`, b('TOGGLE'))).toMatchObject({ ok: false, reason: /^POWER/ });
  });

  it('malformed JSON is rejected with the protocol reason; a wrong value fails schema validation', () => {
    expect(tasmota(tas, `tele/${T.topic}/STATE`, b(T.malformed))).toEqual({
      ok: false,
      reason: 'payload is not valid JSON',
    });
    expect(tasmota(tas, `tele/${T.topic}/SENSOR`, b('[1,2]'))).toEqual({
      ok: false,
      reason: 'payload must be a JSON object',
    });
    const r = tasmota(tas, `tele/${T.topic}/SENSOR`, b(T.badVoltage));
    expect(r.ok).toBe(true);
    if (r.ok)
      expect(decodeValue('telemetry', 'light', r.messages[0]?.value)).toMatchObject({
        ok: false,
        reason: /^voltageV/,
      });
  });

  it('other topics are ignored; a topic of another device is refused', () => {
    expect(tasmota(tas, `tele/${T.topic}/INFO2`, b('{}'))).toEqual({ ok: true, messages: [] });
    expect(tasmota(tas, 'tele/other/STATE', b(T.state)).ok).toBe(false);
  });
});

describe('Tasmota adapter: FullTopic and relay (issue #13)', () => {
  it('a custom FullTopic: topics under it are mapped, the default layout is then foreign', () => {
    const home = { ...tas, tags: { fullTopic: T.fullTopicHome } };
    expect(valid(tasmota(home, `MyHome/Bathroom/tele/${T.topic}/LWT`, b(T.lwtOnline)))).toEqual([
      { channel: 'status', value: 'online' },
    ]);
    expect(valid(tasmota(home, `MyHome/Bathroom/stat/${T.topic}/POWER`, b('ON')))).toEqual([
      { channel: 'telemetry', value: { lampOn: true } },
    ]);
    expect(tasmota(home, `tele/${T.topic}/STATE`, b(T.state))).toMatchObject({ ok: false });
    const first = { ...tas, tags: { fullTopic: T.fullTopicTopicFirst } };
    expect(valid(tasmota(first, `${T.topic}/tele/STATE`, b(T.state)))).toEqual([
      { channel: 'heartbeat', value: { uptimeS: 3605, rssiDbm: -61 } },
      { channel: 'telemetry', value: { lampOn: true } },
    ]);
    expect(tasmota(first, `other_relay/tele/STATE`, b(T.state))).toMatchObject({ ok: false });
  });

  it('tag tasmotaRelay chooses POWER<n> in STATE, stat POWER<n> and RESULT; other relays are ignored', () => {
    const r2 = { ...tas, tags: { tasmotaRelay: '2' } };
    expect(valid(tasmota(r2, `tele/${T.topic}/STATE`, b(T.state4ch)))).toEqual([
      { channel: 'heartbeat', value: { uptimeS: 11560, rssiDbm: -68 } },
      { channel: 'telemetry', value: { lampOn: true } },
    ]);
    expect(valid(tasmota(r2, `stat/${T.topic}/RESULT`, b(T.statResult4ch)))).toEqual([
      { channel: 'telemetry', value: { lampOn: false } },
    ]);
    expect(valid(tasmota(r2, `stat/${T.topic}/POWER2`, b('ON')))).toEqual([
      { channel: 'telemetry', value: { lampOn: true } },
    ]);
    expect(valid(tasmota(r2, `stat/${T.topic}/POWER1`, b('ON')))).toEqual([]);
    expect(valid(tasmota(r2, `stat/${T.topic}/RESULT`, b('{"POWER1":"ON"}')))).toEqual([]);
    // Without the tag, relay 1 of the same device.
    expect(valid(tasmota(tas, `tele/${T.topic}/STATE`, b(T.state4ch)))[1]).toEqual({
      channel: 'telemetry',
      value: { lampOn: false },
    });
  });
});

describe('Shelly Gen2 adapter', () => {
  const t = (rest: string) => `${S.prefix}/${rest}`;

  it('online true/false → status', () => {
    expect(valid(shellyGen2(shl, t('online'), b(S.online)))).toEqual([
      { channel: 'status', value: 'online' },
    ]);
    expect(valid(shellyGen2(shl, t('online'), b(S.offline)))).toEqual([
      { channel: 'status', value: 'offline' },
    ]);
    expect(shellyGen2(shl, t('online'), b('yes'))).toMatchObject({ ok: false, reason: /^status must/ });
  });

  it('status/switch:0 → light telemetry, aenergy.total Wh → kWh', () => {
    expect(valid(shellyGen2(shl, t('status/switch:0'), b(S.switchStatus)))).toEqual([
      {
        channel: 'telemetry',
        value: { lampOn: true, powerW: 92.7, voltageV: 221.4, currentA: 0.42, energyKwh: 1532.2504 },
      },
    ]);
  });

  it('older firmware without voltage and current', () => {
    expect(valid(shellyGen2(shl, t('status/switch:0'), b(S.switchStatusOld)))).toEqual([
      { channel: 'telemetry', value: { lampOn: false, powerW: 0, energyKwh: 0.0123 } },
    ]);
  });

  it('status/sys → heartbeat with its unixtime as ts', () => {
    expect(valid(shellyGen2(shl, t('status/sys'), b(S.sysStatus)))).toEqual([
      { channel: 'heartbeat', value: { uptimeS: 3605, ts: 1764266523000 } },
    ]);
  });

  it('events/rpc NotifyStatus → telemetry at params.ts; NotifyEvent ignored', () => {
    expect(valid(shellyGen2(shl, t('events/rpc'), b(S.notifyStatus)))).toEqual([
      { channel: 'telemetry', value: { lampOn: false, powerW: 0, currentA: 0, ts: 1764266523410 } },
    ]);
    expect(shellyGen2(shl, t('events/rpc'), b(S.notifyEvent))).toEqual({ ok: true, messages: [] });
  });

  it('the switch id comes from the shellySwitch tag', () => {
    const dev = { ...shl, tags: { shellySwitch: '1' } };
    expect(shellyGen2(dev, t('status/switch:0'), b(S.switchStatus))).toEqual({ ok: true, messages: [] });
    expect(valid(shellyGen2(dev, t('status/switch:1'), b(S.switchStatus))).length).toBe(1);
  });

  it('malformed JSON rejected; a wrong type fails the schema with the field name', () => {
    expect(shellyGen2(shl, t('status/switch:0'), b(S.malformed))).toEqual({
      ok: false,
      reason: 'payload is not valid JSON',
    });
    const r = shellyGen2(shl, t('status/switch:0'), b(S.badPower));
    expect(r.ok).toBe(true);
    if (r.ok)
      expect(decodeValue('telemetry', 'light', r.messages[0]?.value)).toMatchObject({
        ok: false,
        reason: /^powerW/,
      });
  });
});

describe('ESPHome adapter', () => {
  const dev = {
    id: 'light-e1',
    topic: 'den-hem-5',
    tags: { 'esphome:sensor/mains_voltage': 'voltageV', 'esphome:switch/relay': 'lampOn' },
  };

  it('status → status; mapped state topics → telemetry; unmapped ignored', () => {
    expect(valid(esphome(dev, 'den-hem-5/status', b('online')))).toEqual([
      { channel: 'status', value: 'online' },
    ]);
    expect(valid(esphome(dev, 'den-hem-5/sensor/mains_voltage/state', b('221.3')))).toEqual([
      { channel: 'telemetry', value: { voltageV: 221.3 } },
    ]);
    expect(valid(esphome(dev, 'den-hem-5/switch/relay/state', b('ON')))).toEqual([
      { channel: 'telemetry', value: { lampOn: true } },
    ]);
    expect(esphome(dev, 'den-hem-5/sensor/wifi_signal/state', b('-61'))).toEqual({ ok: true, messages: [] });
  });

  it('a non-numeric state for a numeric field fails the schema', () => {
    const r = esphome(dev, 'den-hem-5/sensor/mains_voltage/state', b('nan'));
    expect(r.ok && decodeValue('telemetry', 'light', r.messages[0]?.value)).toMatchObject({ ok: false });
  });
});

describe('Frigate adapter', () => {
  const nvr = {
    id: 'nvr-1',
    topic: F.prefix,
    tags: { 'frigate:cong_truong': 'cam-f1', 'frigate:hem_5': 'cam-f2' },
  };
  const mapped = (r: AdapterResult) => (r.ok ? r.messages : []);

  it('available → the NVR status', () => {
    expect(frigate(nvr, 'frigate/available', b('online'))).toEqual({
      ok: true,
      messages: [{ channel: 'status', value: 'online' }],
    });
    expect(frigate(nvr, 'frigate/available', b('maybe'))).toMatchObject({
      ok: false,
      reason: /^status must/,
    });
  });

  it('stats → NVR heartbeat + storageUsedPct; mapped cameras: heartbeat and fps, at 0 fps video loss (issue #13)', () => {
    const m = mapped(frigate(nvr, 'frigate/stats', b(F.stats)));
    expect(m).toEqual([
      { channel: 'heartbeat', value: { uptimeS: 86523, fw: '0.14.1-f4f3cfa' } },
      { channel: 'telemetry', value: { storageUsedPct: 75 } },
      { channel: 'heartbeat', value: {}, deviceId: 'cam-f1' },
      { channel: 'telemetry', value: { fps: 5.1, videoLoss: false }, deviceId: 'cam-f1' },
      { channel: 'telemetry', value: { fps: 0, videoLoss: true }, deviceId: 'cam-f2' },
    ]);
    for (const x of m) expect(decodeValue(x.channel, 'camera', x.value)).toMatchObject({ ok: true });
  });

  it('stats of Frigate 0.11 (cameras at the top level)', () => {
    expect(mapped(frigate(nvr, 'frigate/stats', b(F.statsOld)))).toEqual([
      { channel: 'heartbeat', value: { uptimeS: 3600, fw: '0.11.1-2eada21' } },
      { channel: 'telemetry', value: { storageUsedPct: 50 } },
      { channel: 'heartbeat', value: {}, deviceId: 'cam-f1' },
      { channel: 'telemetry', value: { fps: 5, videoLoss: false }, deviceId: 'cam-f1' },
    ]);
  });

  it('recordings/state → recording of that camera; unmapped cameras and other topics ignored; bad JSON rejected', () => {
    expect(mapped(frigate(nvr, 'frigate/hem_5/recordings/state', b('OFF')))).toEqual([
      { channel: 'telemetry', value: { recording: false }, deviceId: 'cam-f2' },
    ]);
    expect(frigate(nvr, 'frigate/kho/recordings/state', b('ON'))).toEqual({ ok: true, messages: [] });
    expect(frigate(nvr, 'frigate/events', b('{}'))).toEqual({ ok: true, messages: [] });
    expect(frigate(nvr, 'frigate/stats', b('{"service":'))).toEqual({
      ok: false,
      reason: 'payload is not valid JSON',
    });
    expect(
      frigate(nvr, 'frigate/stats', b('{"cameras":{"cong_truong":{"camera_fps":"fast"}}}')),
    ).toMatchObject({
      ok: false,
    });
  });
});
