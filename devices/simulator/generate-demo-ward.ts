import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRandom } from './random.ts';
import type { WardDevice, WardFile, WardStreet } from './ward.ts';

/**
 * Generates the demo ward (config/demo/binh-ngoc.json and binh-ngoc-outline.geojson):
 * Bình Ngọc ward, Móng Cái, Quảng Ninh, with ~40 community cameras and ~60 street lights along
 * its streets. Deterministic (seeded), so the committed files can be checked against it:
 *
 *   npx tsx devices/simulator/generate-demo-ward.ts          # rewrite the files
 *   npx tsx devices/simulator/generate-demo-ward.ts --check  # exit 1 if they are stale
 *
 * Street names, positions, households and donors are illustrative, not survey data.
 */

type LonLat = [number, number];

const SEED = 0x0b1a9c0c;
const WARD_ID = 'binh-ngoc';
const ADDRESS_TAIL = 'P. Bình Ngọc, TP. Móng Cái, Quảng Ninh';
/** Metres per degree at 21.5° N. */
const M_PER_DEG_LAT = 110_650;
const M_PER_DEG_LON = 111_320 * Math.cos((21.5 * Math.PI) / 180);

/** Ward outline (illustrative): the ward's land between the Ka Long river mouth and the sea. */
const OUTLINE: LonLat[] = [
  [107.9555, 21.5085],
  [107.962, 21.514],
  [107.972, 21.5165],
  [107.983, 21.515],
  [107.9925, 21.51],
  [107.9965, 21.501],
  [107.995, 21.492],
  [107.988, 21.4865],
  [107.977, 21.485],
  [107.966, 21.488],
  [107.9585, 21.4945],
  [107.955, 21.5015],
  [107.9555, 21.5085],
];

interface StreetPlan extends WardStreet {
  /** Short form used in names: "Hữu Nghị", "ngõ 12 Hữu Nghị". */
  short: string;
  cameras: number;
  lights: number;
  /** Rated lamp power choices on this street. */
  lampW: number[];
}

const STREETS: StreetPlan[] = [
  {
    name: 'Đường Bình Ngọc',
    short: 'Bình Ngọc',
    kind: 'street',
    path: [
      [107.9745, 21.5125],
      [107.9752, 21.506],
      [107.976, 21.5],
      [107.9772, 21.4935],
      [107.979, 21.4885],
    ],
    cameras: 8,
    lights: 14,
    lampW: [100, 120],
  },
  {
    name: 'Đường Hữu Nghị',
    short: 'Hữu Nghị',
    kind: 'street',
    path: [
      [107.9605, 21.503],
      [107.968, 21.5034],
      [107.9756, 21.5036],
      [107.984, 21.504],
      [107.9915, 21.5048],
    ],
    cameras: 9,
    lights: 16,
    lampW: [100, 120],
  },
  {
    name: 'Đường Ven Sông Ka Long',
    short: 'Ven Sông Ka Long',
    kind: 'street',
    path: [
      [107.96, 21.509],
      [107.966, 21.5125],
      [107.9745, 21.5135],
      [107.983, 21.512],
    ],
    cameras: 5,
    lights: 9,
    lampW: [80, 100],
  },
  {
    name: 'Đường Trà Cổ - Bình Ngọc',
    short: 'Trà Cổ - Bình Ngọc',
    kind: 'street',
    path: [
      [107.9768, 21.496],
      [107.984, 21.4948],
      [107.99, 21.4965],
      [107.9935, 21.5005],
    ],
    cameras: 6,
    lights: 9,
    lampW: [80, 100],
  },
  {
    name: 'Ngõ 12 Hữu Nghị',
    short: 'ngõ 12 Hữu Nghị',
    kind: 'alley',
    path: [
      [107.968, 21.5034],
      [107.9683, 21.5078],
    ],
    cameras: 3,
    lights: 3,
    lampW: [60, 80],
  },
  {
    name: 'Ngõ 27 Hữu Nghị',
    short: 'ngõ 27 Hữu Nghị',
    kind: 'alley',
    path: [
      [107.984, 21.504],
      [107.9838, 21.4995],
    ],
    cameras: 3,
    lights: 3,
    lampW: [60, 80],
  },
  {
    name: 'Ngõ 5 Bình Ngọc',
    short: 'ngõ 5 Bình Ngọc',
    kind: 'alley',
    path: [
      [107.9752, 21.508],
      [107.9805, 21.5085],
    ],
    cameras: 2,
    lights: 2,
    lampW: [60],
  },
  {
    name: 'Ngõ 18 Bình Ngọc',
    short: 'ngõ 18 Bình Ngọc',
    kind: 'alley',
    path: [
      [107.9765, 21.498],
      [107.97, 21.4976],
    ],
    cameras: 2,
    lights: 2,
    lampW: [60],
  },
  {
    name: 'Ngõ 9 Trà Cổ - Bình Ngọc',
    short: 'ngõ 9 Trà Cổ - Bình Ngọc',
    kind: 'alley',
    path: [
      [107.988, 21.4958],
      [107.9885, 21.491],
    ],
    cameras: 2,
    lights: 2,
    lampW: [60, 80],
  },
];

/** Transformer stations; each device is fed by the nearest. Quarter (khu) numbers follow them. */
const POWER_ZONES = [
  { id: 'tram-bn-1', name: 'Trạm biến áp Bình Ngọc 1', lat: 21.511, lon: 107.97, khu: 'Khu 1' },
  { id: 'tram-bn-2', name: 'Trạm biến áp Bình Ngọc 2', lat: 21.5085, lon: 107.983, khu: 'Khu 2' },
  { id: 'tram-bn-3', name: 'Trạm biến áp Bình Ngọc 3', lat: 21.501, lon: 107.968, khu: 'Khu 3' },
  { id: 'tram-bn-4', name: 'Trạm biến áp Bình Ngọc 4', lat: 21.495, lon: 107.985, khu: 'Khu 4' },
];

/** Who paid for and looks after a camera (the Bình Ngọc model is community-funded). */
const DONORS = [
  'tai-tro:hoi-cuu-chien-binh-phuong',
  'tai-tro:doan-thanh-nien-phuong',
  'tai-tro:hoi-phu-nu-phuong',
  'tai-tro:chi-hoi-nha-nghi-tra-co',
  'tai-tro:hoi-doanh-nghiep-mong-cai',
];

const metres = (a: LonLat, b: LonLat): number =>
  Math.hypot((b[0] - a[0]) * M_PER_DEG_LON, (b[1] - a[1]) * M_PER_DEG_LAT);

/** The point `distance` metres along a polyline, and the unit normal (left side) there. */
function along(path: LonLat[], distance: number): { point: LonLat; normal: [number, number] } {
  let left = distance;
  for (let i = 0; i < path.length - 1; i++) {
    const a = path[i] as LonLat;
    const b = path[i + 1] as LonLat;
    const len = metres(a, b);
    if (left <= len || i === path.length - 2) {
      const f = len === 0 ? 0 : Math.min(1, left / len);
      const dx = (b[0] - a[0]) * M_PER_DEG_LON;
      const dy = (b[1] - a[1]) * M_PER_DEG_LAT;
      const n = Math.hypot(dx, dy) || 1;
      return { point: [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f], normal: [-dy / n, dx / n] };
    }
    left -= len;
  }
  throw new Error('empty path');
}

const pathLength = (path: LonLat[]): number =>
  path.slice(1).reduce((sum, p, i) => sum + metres(path[i] as LonLat, p), 0);

function offset(point: LonLat, normal: [number, number], m: number): LonLat {
  return [point[0] + (normal[0] * m) / M_PER_DEG_LON, point[1] + (normal[1] * m) / M_PER_DEG_LAT];
}

/** Ray casting; the ring is closed (first = last). */
export function insidePolygon(p: LonLat, ring: readonly LonLat[]): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i] as LonLat;
    const [xj, yj] = ring[j] as LonLat;
    if (yi > p[1] !== yj > p[1] && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function nearestZone(p: LonLat) {
  let best = POWER_ZONES[0] as (typeof POWER_ZONES)[number];
  let bestD = Number.POSITIVE_INFINITY;
  for (const z of POWER_ZONES) {
    const d = metres(p, [z.lon, z.lat]);
    if (d < bestD) {
      best = z;
      bestD = d;
    }
  }
  return best;
}

const round6 = (v: number) => Math.round(v * 1e6) / 1e6;
const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** Evenly spaced positions along a street, jittered a little, on alternating sides. */
function placements(street: StreetPlan, count: number, rnd: () => number, sideOffsetM: number) {
  const length = pathLength(street.path);
  const spacing = length / count;
  return Array.from({ length: count }, (_, i) => {
    const distance = Math.max(3, Math.min(length - 3, (i + 0.5 + (rnd() - 0.5) * 0.3) * spacing));
    const { point, normal } = along(street.path, distance);
    const side = i % 2 === 0 ? 1 : -1;
    const pos = offset(point, normal, side * sideOffsetM * (0.8 + 0.4 * rnd()));
    // Vietnamese house numbers: odd on one side, even on the other, about one house per 10 m.
    const houseNo = 2 * Math.max(1, Math.round(distance / 20)) - (side === 1 ? 1 : 0);
    return { pos, distance, houseNo };
  });
}

/** A fixed point `distance` metres along a street, `side` metres off it (no randomness). */
function fixedPoint(streetName: string, distance: number, side: number) {
  const street = STREETS.find((s) => s.name === streetName) as StreetPlan;
  const { point, normal } = along(street.path, distance);
  const pos = offset(point, normal, side);
  const zone = nearestZone(pos);
  return { street, zone, lat: round6(pos[1]), lon: round6(pos[0]) };
}

/**
 * Stock firmware (issue #5, docs/firmware.md), after the native fleet so `--count` keeps its
 * meaning: a street light switched by a Tasmota relay, and the ward police's Frigate NVR at the
 * market with two cameras of its own (listed after it: a camera names the NVR as its parent).
 * Heartbeat intervals match the firmware's reporting: TelePeriod 60 and Frigate's stats_interval.
 */
function stockFirmwareDevices(cameraCount: number, lightCount: number): WardDevice[] {
  const tas = fixedPoint('Ngõ 5 Bình Ngọc', 40, 8);
  const nvr = fixedPoint('Đường Bình Ngọc', 760, 12);
  const cams = [fixedPoint('Đường Bình Ngọc', 700, -7), fixedPoint('Đường Bình Ngọc', 830, 7)];
  const nvrId = 'bn-nvr-001';
  const camIds = cams.map((_, i) => `bn-cam-${pad(cameraCount + i + 1, 3)}`);
  const camNames = ['cho_binh_ngoc', 'cong_cho_phia_nam'];
  return [
    {
      id: `bn-light-${pad(lightCount + 1, 3)}`,
      kind: 'light',
      name: `Đèn ${tas.street.short}, cột Tasmota`,
      ward: WARD_ID,
      lat: tas.lat,
      lon: tas.lon,
      address: `Đầu ${tas.street.name}, ${tas.zone.khu}, ${ADDRESS_TAIL}`,
      heartbeatIntervalS: 60,
      protocol: 'tasmota',
      topic: 'tasmota_5C2B3A',
      tags: {
        street: tas.street.name,
        powerZone: tas.zone.id,
        khu: tas.zone.khu,
        lampW: '90',
        relay: 'sonoff-pow-r2',
      },
    },
    {
      id: nvrId,
      // An NVR reports for the cameras behind it: a gateway, not one more camera (issue #12).
      kind: 'gateway',
      name: 'Đầu ghi Frigate chợ Bình Ngọc',
      ward: WARD_ID,
      lat: nvr.lat,
      lon: nvr.lon,
      address: `Ban quản lý chợ, ${nvr.street.name}, ${nvr.zone.khu}, ${ADDRESS_TAIL}`,
      heartbeatIntervalS: 60,
      protocol: 'frigate',
      topic: 'frigate',
      tags: {
        street: nvr.street.name,
        powerZone: nvr.zone.id,
        khu: nvr.zone.khu,
        installedBy: 'cong-an-phuong',
        ...Object.fromEntries(camNames.map((n, i) => [`frigate:${n}`, camIds[i] as string])),
      },
    },
    ...cams.map(
      (c, i): WardDevice => ({
        id: camIds[i] as string,
        kind: 'camera',
        name: i === 0 ? 'Camera chợ Bình Ngọc (Frigate)' : 'Camera cổng chợ phía nam (Frigate)',
        ward: WARD_ID,
        lat: c.lat,
        lon: c.lon,
        address: `Chợ Bình Ngọc, ${c.street.name}, ${c.zone.khu}, ${ADDRESS_TAIL}`,
        heartbeatIntervalS: 60,
        parentId: nvrId,
        tags: { street: c.street.name, powerZone: c.zone.id, khu: c.zone.khu, installedBy: 'cong-an-phuong' },
      }),
    ),
  ];
}

export function generateDemoWard(): { ward: WardFile; outline: object } {
  const rnd = seededRandom(SEED);
  const cameras: WardDevice[] = [];
  const lights: WardDevice[] = [];
  for (const street of STREETS) {
    for (const c of placements(street, street.cameras, rnd, 6)) {
      const zone = nearestZone(c.pos);
      const r = rnd();
      const installedBy =
        r < 0.3
          ? 'cong-an-phuong'
          : r < 0.8
            ? `ho-dan:${slug(`so ${c.houseNo} ${street.short}`)}`
            : (DONORS[Math.floor(rnd() * DONORS.length)] as string);
      const name =
        street.kind === 'alley'
          ? `Camera ${street.short}, số ${c.houseNo}`
          : `Camera số ${c.houseNo} ${street.short}`;
      cameras.push({
        id: '',
        kind: 'camera',
        name,
        ward: WARD_ID,
        lat: round6(c.pos[1]),
        lon: round6(c.pos[0]),
        address: `Số ${c.houseNo} ${street.name}, ${zone.khu}, ${ADDRESS_TAIL}`,
        tags: { street: street.name, powerZone: zone.id, khu: zone.khu, installedBy },
      });
    }
    placements(street, street.lights, rnd, 8).forEach((l, i) => {
      const zone = nearestZone(l.pos);
      const pole = `cột ${pad(i + 1, 2)}`;
      const lampW = street.lampW[Math.floor(rnd() * street.lampW.length)] as number;
      lights.push({
        id: '',
        kind: 'light',
        name: street.kind === 'alley' ? `Đèn ${street.short}, ${pole}` : `Đèn đường ${street.short}, ${pole}`,
        ward: WARD_ID,
        lat: round6(l.pos[1]),
        lon: round6(l.pos[0]),
        address: `Cột đèn ${pad(i + 1, 2)}, ${street.name}, ${zone.khu}, ${ADDRESS_TAIL}`,
        tags: { street: street.name, powerZone: zone.id, khu: zone.khu, lampW: String(lampW) },
      });
    });
  }
  cameras.forEach((d, i) => {
    d.id = `bn-cam-${pad(i + 1, 3)}`;
  });
  lights.forEach((d, i) => {
    d.id = `bn-light-${pad(i + 1, 3)}`;
  });
  const devices = [...cameras, ...lights, ...stockFirmwareDevices(cameras.length, lights.length)];
  for (const d of devices) {
    if (!insidePolygon([d.lon, d.lat], OUTLINE)) throw new Error(`${d.id} falls outside the ward outline`);
  }

  const ward: WardFile = {
    description:
      'Demo ward for wardwatch: Phường Bình Ngọc, TP. Móng Cái, Quảng Ninh, after the ward police model of ' +
      'community cameras and "safe street" lights. Street names, device positions, households and donors are ' +
      'illustrative, not survey data. Generated by devices/simulator/generate-demo-ward.ts (do not edit by hand).',
    ward: {
      id: WARD_ID,
      name: 'Phường Bình Ngọc',
      city: 'Móng Cái',
      province: 'Quảng Ninh',
      timezone: 'Asia/Ho_Chi_Minh',
      center: { lat: 21.5005, lon: 107.9755 },
    },
    outline: 'binh-ngoc-outline.geojson',
    powerZones: POWER_ZONES.map(({ id, name, lat, lon }) => ({ id, name, lat, lon })),
    streets: STREETS.map(({ name, kind, path }) => ({ name, kind, path })),
    devices,
  };
  const outline = {
    type: 'FeatureCollection',
    features: [
      {
        type: 'Feature',
        properties: {
          ward: WARD_ID,
          name: 'Phường Bình Ngọc',
          city: 'Móng Cái',
          province: 'Quảng Ninh',
          note: 'Illustrative outline for the demo, not an official boundary.',
        },
        geometry: { type: 'Polygon', coordinates: [OUTLINE] },
      },
    ],
  };
  return { ward, outline };
}

/** ASCII slug of Vietnamese text: "số 45 Hữu Nghị" → "so-45-huu-nghi". */
export function slug(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/đ/g, 'd')
    .replace(/Đ/g, 'D')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

/**
 * JSON laid out as the repository's formatter (Biome) lays it out: objects one key per line,
 * arrays on one line when they fit in 110 columns, else one element per line.
 */
export function formatJson(value: unknown, indent = 0, prefixLength = 0): string {
  const pad1 = ' '.repeat(indent + 2);
  if (Array.isArray(value)) {
    const inline = `[${value.map((v) => formatJson(v, indent + 2)).join(', ')}]`;
    const nested = value.some((v) => v !== null && typeof v === 'object' && !Array.isArray(v));
    if (value.length === 0 || (!nested && indent + prefixLength + inline.length + 1 <= 110)) return inline;
    return `[\n${value.map((v) => pad1 + formatJson(v, indent + 2)).join(',\n')}\n${' '.repeat(indent)}]`;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    const lines = entries.map(([k, v]) => {
      const key = `${JSON.stringify(k)}: `;
      return pad1 + key + formatJson(v, indent + 2, key.length);
    });
    return `{\n${lines.join(',\n')}\n${' '.repeat(indent)}}`;
  }
  return JSON.stringify(value);
}

const here = dirname(fileURLToPath(import.meta.url));
export const DEMO_WARD_FILE = resolve(here, '../../config/demo/binh-ngoc.json');
export const DEMO_OUTLINE_FILE = resolve(here, '../../config/demo/binh-ngoc-outline.geojson');

export function renderDemoWard(): { wardJson: string; outlineJson: string } {
  const { ward, outline } = generateDemoWard();
  return { wardJson: `${formatJson(ward)}\n`, outlineJson: `${formatJson(outline)}\n` };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { wardJson, outlineJson } = renderDemoWard();
  if (process.argv.includes('--check')) {
    const read = (f: string) => {
      try {
        return readFileSync(f, 'utf8');
      } catch {
        return '';
      }
    };
    const stale = [
      [DEMO_WARD_FILE, wardJson],
      [DEMO_OUTLINE_FILE, outlineJson],
    ].filter(([file, text]) => read(file as string) !== text);
    for (const [file] of stale) process.stderr.write(`stale: ${file} (run this script without --check)\n`);
    process.exit(stale.length > 0 ? 1 : 0);
  }
  writeFileSync(DEMO_WARD_FILE, wardJson);
  writeFileSync(DEMO_OUTLINE_FILE, outlineJson);
  process.stdout.write(`wrote ${DEMO_WARD_FILE}\nwrote ${DEMO_OUTLINE_FILE}\n`);
}
