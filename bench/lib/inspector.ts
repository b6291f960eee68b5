/**
 * Issue #15: a small Chrome DevTools Protocol client for a service started with
 * `--inspect=127.0.0.1:PORT`, so a benchmark can force a full GC, read `process.memoryUsage()` and
 * write heap snapshots of another process (whose RSS is then the service's alone), plus a heap
 * snapshot summary: self size and count per constructor, and for the growth between two
 * snapshots, which objects retain it.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import WebSocket from 'ws';

export interface Inspector {
  call<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>;
  /** Full GC (twice: weak callbacks and finalizers of the first free more in the second). */
  gc(): Promise<void>;
  memoryUsage(): Promise<NodeJS.MemoryUsage>;
  /** Writes a .heapsnapshot (a snapshot also runs a full GC first). */
  heapSnapshot(file: string): Promise<void>;
  close(): void;
}

export async function connectInspector(port: number): Promise<Inspector> {
  const list = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{
    webSocketDebuggerUrl: string;
  }>;
  const url = list[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error(`no inspector target on port ${port}`);
  const ws = new WebSocket(url, { maxPayload: 1 << 30 });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let nextId = 1;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let onChunk: ((chunk: string) => void) | null = null;
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString()) as {
      id?: number;
      result?: unknown;
      error?: { message: string };
      method?: string;
      params?: { chunk?: string };
    };
    if (msg.method === 'HeapProfiler.addHeapSnapshotChunk' && msg.params?.chunk !== undefined) {
      onChunk?.(msg.params.chunk);
      return;
    }
    if (msg.id === undefined) return;
    const p = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.error) p?.reject(new Error(msg.error.message));
    else p?.resolve(msg.result);
  });
  const call = <T>(method: string, params: Record<string, unknown> = {}) =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });
  return {
    call,
    async gc() {
      await call('HeapProfiler.collectGarbage');
      await call('HeapProfiler.collectGarbage');
    },
    async memoryUsage() {
      const r = await call<{ result: { value: string } }>('Runtime.evaluate', {
        expression: 'JSON.stringify(process.memoryUsage())',
        returnByValue: true,
      });
      return JSON.parse(r.result.value) as NodeJS.MemoryUsage;
    },
    async heapSnapshot(file) {
      const out = createWriteStream(file);
      onChunk = (chunk) => out.write(chunk);
      try {
        await call('HeapProfiler.takeHeapSnapshot', { reportProgress: false, captureNumericValue: false });
      } finally {
        onChunk = null;
        await new Promise<void>((resolve) => out.end(resolve));
      }
    },
    close: () => ws.close(),
  };
}

/** Bytes and count per key. */
export type Tally = Map<string, { count: number; bytes: number }>;

export interface SnapshotSummary {
  /** Self size per `type:constructor` (e.g. `object:Socket`, `closure:nextBatch`, `string`). */
  byConstructor: Tally;
  /** Self size per `type:constructor ← retainer type:constructor.edge` (first retainer). */
  byRetainer: Tally;
  totalBytes: number;
}

interface RawSnapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

const add = (t: Tally, key: string, bytes: number) => {
  const e = t.get(key);
  if (e) {
    e.count++;
    e.bytes += bytes;
  } else t.set(key, { count: 1, bytes });
};

/**
 * A .heapsnapshot file parsed once (a JSON.parse of up to hundreds of MB: the costly part), for
 * both the summary and the growth attribution: its flat node and edge tables and where each field
 * sits in a row.
 */
export interface HeapSnapshot {
  nodeCount: number;
  nodes: number[];
  edges: number[];
  strings: string[];
  nodeTypes: string[];
  edgeTypes: string[];
  /** Fields per node row and per edge row. */
  nf: number;
  ef: number;
  /** Offsets within a row. */
  nType: number;
  nName: number;
  nId: number;
  nSize: number;
  nEdges: number;
  eType: number;
  eName: number;
  eTo: number;
}

export function readSnapshot(file: string): HeapSnapshot {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as RawSnapshot;
  const { meta } = raw.snapshot;
  const f = (n: string) => meta.node_fields.indexOf(n);
  const e = (n: string) => meta.edge_fields.indexOf(n);
  const nf = meta.node_fields.length;
  return {
    nodeCount: raw.nodes.length / nf,
    nodes: raw.nodes,
    edges: raw.edges,
    strings: raw.strings,
    nodeTypes: meta.node_types[0],
    edgeTypes: meta.edge_types[0],
    nf,
    ef: meta.edge_fields.length,
    nType: f('type'),
    nName: f('name'),
    nId: f('id'),
    nSize: f('self_size'),
    nEdges: f('edge_count'),
    eType: e('type'),
    eName: e('name_or_index'),
    eTo: e('to_node'),
  };
}

/**
 * The first strong retainer of every node (weak and shortcut edges say nothing about ownership)
 * and the edge it holds it by; -1 for none. `skipSelf`: an object's edge to itself does not count.
 */
function firstRetainers(s: HeapSnapshot, skipSelf: boolean) {
  const { nodes, edges, strings, edgeTypes, nf, ef } = s;
  const retainer = new Int32Array(s.nodeCount).fill(-1);
  const retainerEdge = new Array<string>(s.nodeCount);
  let edgeIndex = 0;
  for (let i = 0; i < s.nodeCount; i++) {
    const count = nodes[i * nf + s.nEdges] as number;
    for (let k = 0; k < count; k++, edgeIndex += ef) {
      const to = (edges[edgeIndex + s.eTo] as number) / nf;
      if (retainer[to] !== -1 || (skipSelf && to === i)) continue;
      const type = edgeTypes[edges[edgeIndex + s.eType] as number];
      if (type === 'weak' || type === 'shortcut') continue;
      retainer[to] = i;
      const n = edges[edgeIndex + s.eName] as number;
      retainerEdge[to] =
        type === 'element' || type === 'hidden' ? `[${type}]` : String(strings[n] ?? n).slice(0, 40);
    }
  }
  return { retainer, retainerEdge };
}

const typeOf = (s: HeapSnapshot, i: number): string =>
  s.nodeTypes[s.nodes[i * s.nf + s.nType] as number] ?? '?';
const nameOf = (s: HeapSnapshot, i: number): string | undefined =>
  s.strings[s.nodes[i * s.nf + s.nName] as number];

/**
 * Self sizes grouped by constructor, and by constructor plus the first strong retainer (the
 * object and property that hold it: `object:Map ← object:Registry.devices`), which says whose
 * map, buffer or closure a byte is. Strings, code and numbers are grouped by their type only.
 */
export function summariseSnapshot(s: HeapSnapshot): SnapshotSummary {
  const label = (i: number): string => {
    const type = typeOf(s, i);
    if (type === 'object' || type === 'closure' || type === 'native' || type === 'hidden')
      return `${type}:${nameOf(s, i) ?? '?'}`;
    if (type === 'array') return `array:${nameOf(s, i) ?? ''}`;
    return type;
  };
  const { retainer, retainerEdge } = firstRetainers(s, false);
  const byConstructor: Tally = new Map();
  const byRetainer: Tally = new Map();
  let totalBytes = 0;
  for (let i = 0; i < s.nodeCount; i++) {
    const size = s.nodes[i * s.nf + s.nSize] as number;
    totalBytes += size;
    const own = label(i);
    add(byConstructor, own, size);
    const r = retainer[i] as number;
    add(byRetainer, `${own} ← ${r >= 0 ? `${label(r)}.${retainerEdge[i]}` : '(root)'}`, size);
  }
  return { byConstructor, byRetainer, totalBytes };
}

/** Growth from `before` to `after` per unit (e.g. per connected client), largest first. */
export function diffTallies(
  before: Tally,
  after: Tally,
  per: number,
  top: number,
): Array<{ key: string; countPer: number; bytesPer: number }> {
  const rows: Array<{ key: string; countPer: number; bytesPer: number }> = [];
  for (const [key, a] of after) {
    const b = before.get(key) ?? { count: 0, bytes: 0 };
    rows.push({ key, countPer: (a.count - b.count) / per, bytesPer: (a.bytes - b.bytes) / per });
  }
  rows.sort((x, y) => y.bytesPer - x.bytesPer);
  return rows.slice(0, top);
}

/** Every node's id: all attributeGrowth needs of the earlier snapshot (its tables may go). */
export function nodeIds(s: HeapSnapshot): Set<number> {
  const ids = new Set<number>();
  for (let i = 0; i < s.nodeCount; i++) ids.add(s.nodes[i * s.nf + s.nId] as number);
  return ids;
}

interface Parsed {
  ids: Float64Array;
  size: Float64Array;
  labels: string[];
  retainer: Int32Array;
  retainerEdge: string[];
}

/** Per node: its id, self size, label (names cut at 40 characters) and first retainer. */
function nodesOf(s: HeapSnapshot): Parsed {
  const count = s.nodeCount;
  const ids = new Float64Array(count);
  const size = new Float64Array(count);
  const labels = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    ids[i] = s.nodes[i * s.nf + s.nId] as number;
    size[i] = s.nodes[i * s.nf + s.nSize] as number;
    const type = typeOf(s, i);
    const name = nameOf(s, i) ?? '';
    labels[i] =
      type === 'object' || type === 'closure' || type === 'native' || type === 'hidden' || type === 'array'
        ? `${type}:${name.slice(0, 40)}`
        : type;
  }
  return { ids, size, labels, ...firstRetainers(s, true) };
}

/**
 * Issue #15: where the heap grew between two snapshots of one process (node ids are stable within
 * a process): `oldIds`, the first's nodeIds. Every object new in `after` is charged to the old object its chain of first
 * retainers reaches (the attach point: `byClientId`'s Map, aedes' `clients`, a socket list…),
 * named by that object, the property it holds the new ones by, and two retainers above it.
 */
export function attributeGrowth(
  oldIds: ReadonlySet<number>,
  after: HeapSnapshot,
  per: number,
  top: number,
): Array<{ key: string; countPer: number; bytesPer: number }> {
  const s = nodesOf(after);
  const count = s.ids.length;
  const isNew = (i: number) => !oldIds.has(s.ids[i] as number);
  const attach = new Int32Array(count).fill(-2); // -2 unknown, -1 none
  const attachEdge = new Array<string>(count);
  const tally: Tally = new Map();
  const describe = (i: number, depth: number): string => {
    let label = s.labels[i] as string;
    let cur = i;
    for (let d = 0; d < depth; d++) {
      const r = s.retainer[cur] as number;
      if (r < 0) break;
      label += ` ← ${s.labels[r]}.${s.retainerEdge[cur]}`;
      cur = r;
    }
    return label;
  };
  for (let i = 0; i < count; i++) {
    if (!isNew(i)) continue;
    // Walk up through new nodes to the first old one (bounded: first-retainer chains may cycle).
    const path: number[] = [];
    let cur = i;
    let found = -1;
    let edge = '';
    for (let steps = 0; steps < 200; steps++) {
      if (attach[cur] !== -2) {
        found = attach[cur] as number;
        edge = attachEdge[cur] as string;
        break;
      }
      path.push(cur);
      const r = s.retainer[cur] as number;
      if (r < 0) break;
      if (!isNew(r)) {
        found = r;
        edge = s.retainerEdge[cur] as string;
        break;
      }
      cur = r;
    }
    for (const p of path) {
      attach[p] = found;
      attachEdge[p] = edge;
    }
    const key = found < 0 ? '(no old retainer)' : `.${edge} of ${describe(found, 2)}`;
    add(tally, key, s.size[i] as number);
  }
  return diffTallies(new Map(), tally, per, top);
}
