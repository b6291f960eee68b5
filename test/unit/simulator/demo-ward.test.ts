import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isDeviceId } from '../../../devices/protocol/index.ts';
import {
  DEMO_OUTLINE_FILE,
  DEMO_WARD_FILE,
  insidePolygon,
  renderDemoWard,
  slug,
} from '../../../devices/simulator/generate-demo-ward.ts';
import { loadWard, validateWard } from '../../../devices/simulator/ward.ts';

const ward = loadWard(DEMO_WARD_FILE);
const outline = JSON.parse(readFileSync(DEMO_OUTLINE_FILE, 'utf8')) as {
  features: Array<{ geometry: { type: string; coordinates: Array<Array<[number, number]>> } }>;
};
const ring = outline.features[0]?.geometry.coordinates[0] ?? [];

describe('demo ward config/demo/binh-ngoc.json', () => {
  it('is what the generator produces (regenerate with devices/simulator/generate-demo-ward.ts)', () => {
    const { wardJson, outlineJson } = renderDemoWard();
    expect(readFileSync(DEMO_WARD_FILE, 'utf8')).toBe(wardJson);
    expect(readFileSync(DEMO_OUTLINE_FILE, 'utf8')).toBe(outlineJson);
  });

  it('counts the Frigate NVR as a gateway, not a camera (issue #12)', () => {
    const nvrs = ward.devices.filter((d) => d.protocol === 'frigate');
    expect(nvrs.map((d) => [d.id, d.kind])).toEqual([['bn-nvr-001', 'gateway']]);
    const behind = ward.devices.filter((d) => d.parentId === 'bn-nvr-001');
    expect(behind.map((d) => d.kind)).toEqual(['camera', 'camera']);
  });

  it('has about 40 cameras and 60 lights with unique, valid ids', () => {
    const cameras = ward.devices.filter((d) => d.kind === 'camera');
    const lights = ward.devices.filter((d) => d.kind === 'light');
    expect(cameras.length).toBeGreaterThanOrEqual(35);
    expect(cameras.length).toBeLessThanOrEqual(45);
    expect(lights.length).toBeGreaterThanOrEqual(55);
    expect(lights.length).toBeLessThanOrEqual(65);
    const ids = ward.devices.map((d) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const d of cameras)
      expect(d.id).toMatch(d.protocol === 'frigate' ? /^bn-nvr-\d{3}$/ : /^bn-cam-\d{3}$/);
    for (const d of lights) expect(d.id).toMatch(/^bn-light-\d{3}$/);
    for (const id of ids) expect(isDeviceId(id), id).toBe(true);
  });

  it('places every device inside the outline (and its bounding box)', () => {
    expect(outline.features[0]?.geometry.type).toBe('Polygon');
    const lons = ring.map((p) => p[0]);
    const lats = ring.map((p) => p[1]);
    const [minLon, maxLon, minLat, maxLat] = [
      Math.min(...lons),
      Math.max(...lons),
      Math.min(...lats),
      Math.max(...lats),
    ];
    // Bình Ngọc, Móng Cái (illustrative, but in the right place).
    expect(minLat).toBeGreaterThan(21.47);
    expect(maxLat).toBeLessThan(21.53);
    expect(minLon).toBeGreaterThan(107.94);
    expect(maxLon).toBeLessThan(108.01);
    for (const d of ward.devices) {
      expect(d.lat >= minLat && d.lat <= maxLat && d.lon >= minLon && d.lon <= maxLon, d.id).toBe(true);
      expect(insidePolygon([d.lon, d.lat], ring), d.id).toBe(true);
    }
  });

  it('every device has a Vietnamese name, an address, the ward, a street and a power zone', () => {
    const zones = new Set(ward.powerZones.map((z) => z.id));
    const streets = new Set(ward.streets.map((s) => s.name));
    for (const d of ward.devices) {
      expect(d.ward).toBe('binh-ngoc');
      expect(d.name).toMatch(
        d.protocol === 'frigate' ? /^Đầu ghi / : d.kind === 'camera' ? /^Camera / : /^Đèn /,
      );
      expect(d.address).toMatch(/P\. Bình Ngọc, TP\. Móng Cái, Quảng Ninh$/);
      expect(streets.has(d.tags?.street ?? '')).toBe(true);
      expect(zones.has(d.tags?.powerZone ?? '')).toBe(true);
      if (d.kind !== 'light') expect(d.tags?.installedBy).toMatch(/^(cong-an-phuong|ho-dan:|tai-tro:)/);
      else expect(Number(d.tags?.lampW)).toBeGreaterThanOrEqual(60);
    }
    // Lights sit in several zones, so a power cut takes out a part of the ward, not all of it.
    const lightZones = new Set(ward.devices.filter((d) => d.kind === 'light').map((d) => d.tags?.powerZone));
    expect(lightZones.size).toBeGreaterThanOrEqual(3);
    expect(ward.devices.some((d) => d.name.startsWith('Camera ngõ 12 Hữu Nghị'))).toBe(true);
  });

  it('has stock firmware: a Tasmota light and a Frigate NVR before its two cameras (issue #5)', () => {
    const native = ward.devices.filter((d) => d.protocol === undefined);
    const stock = ward.devices.slice(native.length);
    // Stock firmware comes last, so `--count N` still takes native devices.
    expect(stock.every((d) => d.protocol !== undefined || d.parentId !== undefined)).toBe(true);
    const tasmota = ward.devices.filter((d) => d.protocol === 'tasmota');
    expect(tasmota).toHaveLength(1);
    expect(tasmota[0]).toMatchObject({ kind: 'light', topic: 'tasmota_5C2B3A', heartbeatIntervalS: 60 });
    const nvrs = ward.devices.filter((d) => d.protocol === 'frigate');
    expect(nvrs).toHaveLength(1);
    const nvr = nvrs[0]!;
    expect(nvr).toMatchObject({ kind: 'gateway', topic: 'frigate' });
    const mapped = Object.entries(nvr.tags ?? {}).filter(([k]) => k.startsWith('frigate:'));
    expect(mapped).toHaveLength(2);
    const nvrIndex = ward.devices.indexOf(nvr);
    for (const [, id] of mapped) {
      const cam = ward.devices.find((d) => d.id === id);
      expect(cam, id).toMatchObject({ kind: 'camera', parentId: nvr.id, heartbeatIntervalS: 60 });
      expect(ward.devices.indexOf(cam!)).toBeGreaterThan(nvrIndex);
    }
    // Stock-firmware topics are unique per protocol (the API refuses duplicates).
    const topics = ward.devices.filter((d) => d.topic).map((d) => `${d.protocol}/${d.topic}`);
    expect(new Set(topics).size).toBe(topics.length);
  });

  it('validation reports duplicate ids and bad rows', () => {
    const dup = { ...ward, devices: [ward.devices[0], ward.devices[0]] };
    expect(validateWard(dup)).toMatchObject({ ok: false });
    const bad = { ...ward, devices: [{ ...ward.devices[0], id: 'Not An Id' }] };
    expect(validateWard(bad)).toMatchObject({ ok: false });
  });

  it('slugs Vietnamese text', () => {
    expect(slug('Số 45 Đường Hữu Nghị')).toBe('so-45-duong-huu-nghi');
  });
});
