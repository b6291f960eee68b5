/**
 * The results table of `npm run bench -- --cluster` (issue #14): one column per system of the run
 * (the Mosquitto pipeline, wardwatch as one process, wardwatch in cluster mode with N edges), and
 * each one's ratio to the Mosquitto pipeline measured in the same run. Pure: from the worlds
 * bench/run.ts measured to rows and markdown.
 */

/** What bench/run.ts's fleetWorld measured for one system (the fields this table reads). */
export interface ClusterWorld {
  devices: number;
  fleet?: {
    connected: number;
    messagesPerS: number;
    pipelineCpuPct: number;
    window: { wallS: number; pctOfOneCore: Record<string, number> };
    /** Memory of every pipeline process before the devices connected and at the window's end. */
    memoryMiB?: { before: Record<string, number>; after: Record<string, number> };
  };
  storm?: {
    allConnackS?: number | null;
    allOnlineS?: number | null;
    error?: string;
    cpu?: { wallS: number; pctOfOneCore: Record<string, number> };
  };
}

export type Cell = number | string | null;
export interface ClusterRow {
  metric: string;
  /** One value per system, in the order of `systems`. */
  values: Cell[];
  /** value ÷ the Mosquitto pipeline's, per system (null where either is not a number). */
  ratios: Cell[];
}

const round = (x: number, digits = 0) => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};
const isGenerator = (name: string) => name.startsWith('generator');
/** Broker processes: the ones each connected device costs memory in. */
const isBroker = (name: string) => name === 'wardwatch' || name === 'mosquitto' || /^node\d+$/.test(name);

/** CPU seconds of every non-generator process over a window of `pctOfOneCore` percentages. */
function cpuSeconds(cpu: { wallS: number; pctOfOneCore: Record<string, number> } | undefined) {
  if (!cpu) return null;
  return Object.entries(cpu.pctOfOneCore)
    .filter(([k]) => !isGenerator(k))
    .reduce((a, [, v]) => a + (v / 100) * cpu.wallS, 0);
}

/** Memory each connected device costs the broker processes: their growth from connecting ÷ devices. */
export function bytesPerDevice(w: ClusterWorld): number | null {
  const f = w.fleet;
  if (!f?.memoryMiB || !f.connected) return null;
  let growthMiB = 0;
  for (const [k, after] of Object.entries(f.memoryMiB.after))
    if (isBroker(k)) growthMiB += after - (f.memoryMiB.before[k] ?? after);
  return round((growthMiB * 2 ** 20) / f.connected);
}

/**
 * Rows for `systems` (names as run.ts keys its worlds: `mosquitto`, `wardwatch`, `cluster-N`); the
 * ratio is to `mosquitto` when it ran.
 */
export function clusterRows(systems: readonly string[], worlds: Record<string, ClusterWorld | undefined>) {
  const rows: ClusterRow[] = [];
  const base = worlds.mosquitto;
  const add = (metric: string, get: (w: ClusterWorld) => Cell, ratio = true) => {
    const values = systems.map((s) => {
      const w = worlds[s];
      return w ? get(w) : null;
    });
    const b = base ? get(base) : null;
    const ratios = values.map((v) =>
      ratio && typeof v === 'number' && typeof b === 'number' && b > 0 ? round(v / b, 2) : null,
    );
    rows.push({ metric, values, ratios });
  };
  add('devices connected', (w) => w.fleet?.connected ?? null, false);
  add(
    'messages/s offered (heartbeat 30 s + telemetry 60 s, QoS 0)',
    (w) => w.fleet?.messagesPerS ?? null,
    false,
  );
  add('fleet: pipeline CPU, % of one core (every process but the generators)', (w) =>
    w.fleet ? w.fleet.pipelineCpuPct : null,
  );
  const procs = new Set<string>();
  for (const s of systems)
    for (const k of Object.keys(worlds[s]?.fleet?.window.pctOfOneCore ?? {}))
      if (!isGenerator(k)) procs.add(k);
  for (const p of procs) add(`  fleet CPU ${p}, %`, (w) => w.fleet?.window.pctOfOneCore[p] ?? null, false);
  add('fleet: memory per connected device, KB (broker processes’ growth from connecting)', (w) => {
    const b = bytesPerDevice(w);
    return b === null ? null : round(b / 1024, 1);
  });
  const memProcs = new Set<string>();
  for (const s of systems)
    for (const k of Object.keys(worlds[s]?.fleet?.memoryMiB?.after ?? {})) memProcs.add(k);
  for (const p of memProcs)
    add(
      `  memory ${p} at the window's end, MiB${p === 'postgres' ? ' (PSS of its processes)' : ''}`,
      (w) => w.fleet?.memoryMiB?.after[p] ?? null,
      false,
    );
  const stormCell = (w: ClusterWorld, v: number | null | undefined): Cell =>
    v ?? (w.storm?.error ? `gave up (${w.storm.error.slice(0, 60)})` : null);
  add('storm: drop → last CONNACK, s', (w) => stormCell(w, w.storm?.allConnackS));
  add(
    'storm: drop → all online (status summary), s',
    (w) => (w.storm ? (w.storm.allOnlineS ?? null) : null),
    false,
  );
  add('storm: CPU of the pipeline, ms per device (drop → all back)', (w) => {
    const s = cpuSeconds(w.storm?.cpu);
    return s === null || !w.fleet?.connected ? null : round((s * 1000) / w.fleet.connected, 2);
  });
  const stormProcs = new Set<string>();
  for (const s of systems)
    for (const k of Object.keys(worlds[s]?.storm?.cpu?.pctOfOneCore ?? {}))
      if (!isGenerator(k)) stormProcs.add(k);
  for (const p of stormProcs)
    add(
      `  storm CPU ${p}, s`,
      (w) => {
        const c = w.storm?.cpu;
        const v = c?.pctOfOneCore[p];
        return c && v !== undefined ? round((v / 100) * c.wallS, 2) : null;
      },
      false,
    );
  return rows;
}

const LABELS: Record<string, string> = {
  mosquitto: 'Mosquitto pipeline',
  wardwatch: 'wardwatch, one process',
};
export const systemLabel = (s: string) =>
  LABELS[s] ?? (/^cluster-(\d+)$/.test(s) ? `cluster, ${s.slice(8)} edge${s === 'cluster-1' ? '' : 's'}` : s);

const fmt = (c: Cell) => (c === null ? 'n/a' : typeof c === 'number' ? c.toLocaleString('en-US') : c);

/** The table: metric, then each system's value, then each non-baseline system's ratio. */
export function clusterTable(systems: readonly string[], rows: readonly ClusterRow[]): string {
  const ratioCols = systems.map((s, i) => [s, i] as const).filter(([s]) => s !== 'mosquitto');
  const head = [
    'metric',
    ...systems.map(systemLabel),
    ...ratioCols.map(([s]) => `${systemLabel(s)} ÷ Mosquitto`),
  ];
  const lines = [
    `| ${head.join(' | ')} |`,
    `|---|${head
      .slice(1)
      .map(() => '--:')
      .join('|')}|`,
  ];
  for (const r of rows)
    lines.push(
      `| ${[r.metric, ...r.values.map(fmt), ...ratioCols.map(([, i]) => (r.ratios[i] == null ? '' : String(r.ratios[i])))].join(' | ')} |`,
    );
  return lines.join('\n');
}
