import type { WardDevice, WardFile } from './ward.ts';

/**
 * Stock-firmware devices added from the command line (`--tasmota N`, `--frigate M`, issue #5),
 * for any ward file: N Tasmota relays switching street lights and one Frigate NVR with M cameras,
 * in two short rows near the ward's centre. Ids and topics are fixed (`sim-tasmota-01`,
 * `tasmota_SIM001`, `sim-nvr-01` with prefix `frigate-sim`, `sim-fcam-01`…), so a second run
 * finds them registered and rotates their secrets like any other device. Pure.
 */
export function extraStockDevices(ward: WardFile, tasmota: number, frigateCameras: number): WardDevice[] {
  const { lat, lon } = ward.ward.center;
  const wardId = ward.ward.id;
  const two = (n: number) => String(n).padStart(2, '0');
  const out: WardDevice[] = [];
  // ~65 m apart at these latitudes: separate markers at street zoom.
  const step = 0.0006;
  for (let i = 1; i <= tasmota; i++) {
    out.push({
      id: `sim-tasmota-${two(i)}`,
      kind: 'light',
      name: `Đèn Tasmota ${two(i)}`,
      ward: wardId,
      lat: round6(lat + 0.0012),
      lon: round6(lon + (i - 1) * step),
      heartbeatIntervalS: 60,
      protocol: 'tasmota',
      topic: `tasmota_SIM${String(i).padStart(3, '0')}`,
    });
  }
  if (frigateCameras > 0) {
    const nvrId = 'sim-nvr-01';
    const cams = Array.from({ length: frigateCameras }, (_, i) => ({
      id: `sim-fcam-${two(i + 1)}`,
      name: `camera_${two(i + 1)}`,
    }));
    out.push({
      id: nvrId,
      kind: 'gateway',
      name: 'Đầu ghi Frigate (mô phỏng)',
      ward: wardId,
      lat: round6(lat - 0.0012),
      lon: round6(lon),
      heartbeatIntervalS: 60,
      protocol: 'frigate',
      topic: 'frigate-sim',
      tags: Object.fromEntries(cams.map((c) => [`frigate:${c.name}`, c.id])),
    });
    cams.forEach((c, i) => {
      out.push({
        id: c.id,
        kind: 'camera',
        name: `Camera Frigate ${two(i + 1)}`,
        ward: wardId,
        lat: round6(lat - 0.0018),
        lon: round6(lon + (i - (frigateCameras - 1) / 2) * step),
        heartbeatIntervalS: 60,
        parentId: nvrId,
      });
    });
  }
  return out;
}

const round6 = (v: number) => Math.round(v * 1e6) / 1e6;
