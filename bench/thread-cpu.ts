/**
 * Issue #15 (alloc lane): where a process's CPU goes outside its main thread. Samples
 * /proc/<pid>/task/<tid>/stat (utime + stime, clock ticks) every second and prints one JSON line
 * per sample: the wall time and the ticks per thread (`comm#tid`) since the previous sample.
 * The summary groups them (main thread; V8 platform workers: GC helpers, compiler; libuv's pool:
 * write-ahead log writes/fdatasync, scrypt). Ends when the process does. Summarise a window with `--from HH:MM:SS --to HH:MM:SS` over the saved lines.
 *
 *   node --import tsx bench/thread-cpu.ts --pid 1234 > /tmp/threads.jsonl
 *   node --import tsx bench/thread-cpu.ts --match dist/services/main.js > /tmp/threads.jsonl
 *   node --import tsx bench/thread-cpu.ts --summary /tmp/threads.jsonl --from 18:20:00 --to 18:20:30
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    pid: { type: 'string' },
    match: { type: 'string' },
    summary: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    'interval-ms': { type: 'string', default: '1000' },
  },
});

/** clock ticks per second (USER_HZ), 100 on Linux everywhere that matters. */
const HZ = 100;

/** Thread name → group: numbered pool threads are one group. */
const group = (comm: string) => comm.replace(/\s*\d+$/, '').trim();

function threadTicks(pid: number): Map<string, number> | null {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // comm is between the first '(' and the last ')': it may hold spaces.
      const open = stat.indexOf('(');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(open + 1, close);
      const rest = stat.slice(close + 2).split(' ');
      // fields 14 and 15 (utime, stime) are rest[11], rest[12] (rest starts at field 3).
      const ticks = Number(rest[11]) + Number(rest[12]);
      const key = `${group(comm)}#${tid}`;
      out.set(key, ticks);
    } catch {
      // the thread ended between readdir and read
    }
  }
  return out;
}

function findPid(pattern: string): number | null {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replaceAll('\0', ' ');
      // This checkout's service only (other checkouts may run one too).
      if (
        cmd.includes(pattern) &&
        !cmd.includes('thread-cpu') &&
        readlinkSync(`/proc/${d}/cwd`) === process.cwd()
      )
        return Number(d);
    } catch {
      // gone
    }
  }
  return null;
}

async function sample() {
  let pid = values.pid ? Number(values.pid) : null;
  while (pid === null) {
    pid = findPid(values.match ?? 'dist/services/main.js');
    if (pid === null) await new Promise((r) => setTimeout(r, 200));
  }
  process.stderr.write(`thread-cpu: sampling pid ${pid}\n`);
  let prev = threadTicks(pid);
  const intervalMs = Number(values['interval-ms']);
  while (prev) {
    await new Promise((r) => setTimeout(r, intervalMs));
    const now = threadTicks(pid);
    if (!now) break;
    const byThread: Record<string, number> = {};
    for (const [key, t] of now) byThread[key] = t - (prev.get(key) ?? 0);
    const at = new Date().toISOString().slice(11, 19);
    process.stdout.write(`${JSON.stringify({ at, pid, ticks: byThread })}\n`);
    prev = now;
  }
}

function summarise(file: string) {
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { at: string; ticks: Record<string, number> });
  const inWindow = lines.filter(
    (l) => (!values.from || l.at > values.from) && (!values.to || l.at <= values.to),
  );
  // Node 20's threads are all named `node` (libuv names its pool from 1.48 on, V8 its workers in
  // later Nodes): they are told apart by creation order. The main thread's id is the pid; Node
  // starts 6 more before any JavaScript runs (4 V8 platform workers: GC helpers and concurrent
  // compilation; the delayed-task scheduler; the inspector's signal thread); libuv's pool (4
  // threads) starts at the first thread-pool job, after them.
  const pid = (lines[0] as unknown as { pid: number }).pid;
  const tids = [...new Set(lines.flatMap((l) => Object.keys(l.ticks)))]
    .map((k) => Number(k.slice(k.indexOf('#') + 1)))
    .sort((a, b) => a - b);
  const startup = new Set(tids.filter((t) => t !== pid).slice(0, 6));
  const classOf = (key: string) => {
    const tid = Number(key.slice(key.indexOf('#') + 1));
    const comm = key.slice(0, key.indexOf('#'));
    if (comm !== 'node') return comm;
    if (tid === pid) return 'main';
    return startup.has(tid) ? 'v8-platform (GC helpers, compiler)' : 'libuv pool and later threads';
  };
  const sum: Record<string, number> = {};
  for (const l of inWindow)
    for (const [k, t] of Object.entries(l.ticks)) sum[classOf(k)] = (sum[classOf(k)] ?? 0) + t;
  const seconds = inWindow.length * (Number(values['interval-ms']) / 1000);
  const pct = Object.fromEntries(
    Object.entries(sum)
      .sort((a, b) => b[1] - a[1])
      .map(([g, t]) => [g, Math.round((t / HZ / seconds) * 1000) / 10]),
  );
  const total = Object.values(sum).reduce((a, b) => a + b, 0);
  process.stdout.write(
    `${JSON.stringify({ samples: inWindow.length, seconds, pctOfOneCoreByThread: pct, totalPct: Math.round((total / HZ / seconds) * 1000) / 10 })}\n`,
  );
}

if (values.summary) summarise(values.summary);
else await sample();
