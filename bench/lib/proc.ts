/**
 * Child processes of the benchmark (every one is killed when the orchestrator exits, Ctrl-C
 * included), CPU and memory read from /proc, free ports, percentiles.
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';

const children = new Set<ChildProcess>();
const dirs = new Set<string>();
let hooked = false;

/** A temp dir removed when the orchestrator exits (after its children are killed), unless BENCH_KEEP is set. */
export function trackDir(dir: string): string {
  dirs.add(dir);
  hookExit();
  return dir;
}

/** Track a child so that exit, SIGINT or SIGTERM of the orchestrator kills it. */
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  hookExit();
  return child;
}

function hookExit(): void {
  if (!hooked) {
    hooked = true;
    const killAll = () => {
      for (const c of children) {
        try {
          c.kill('SIGKILL');
        } catch {
          // gone already
        }
      }
    };
    process.on('exit', () => {
      killAll();
      if (!process.env.BENCH_KEEP) for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.on(sig, () => {
        process.stderr.write(`bench: ${sig}, stopping children\n`);
        process.exit(130);
      });
    }
  }
}

/** SIGTERM, then SIGKILL after graceMs; resolves when the child has exited. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
}

let clkTck = 100;
try {
  clkTck = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
} catch {
  // Linux default
}

/** utime + stime of a process in seconds, or null if it is gone. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / clkTck;
  } catch {
    return null;
  }
}

/** The fields of /proc/<pid>/stat a process tree's CPU needs (ticks). */
export interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime. */
  selfTicks: number;
  /** cutime + cstime: children that exited and were waited for. */
  childTicks: number;
}

/** Parses one /proc/<pid>/stat line (the command name may hold spaces and parentheses). */
export function parseProcStat(line: string): ProcStat | null {
  const close = line.lastIndexOf(')');
  const pid = Number.parseInt(line, 10);
  if (close < 0 || !Number.isInteger(pid)) return null;
  // After ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime
  const f = line.slice(close + 2).split(' ');
  const n = (i: number) => Number(f[i]);
  if (f.length < 15 || [1, 11, 12, 13, 14].some((i) => Number.isNaN(n(i)))) return null;
  return { pid, ppid: n(1), selfTicks: n(11) + n(12), childTicks: n(13) + n(14) };
}

/** Every live descendant of `root` (not root itself), from a snapshot of every process. */
export function descendants(stats: readonly ProcStat[], root: number): ProcStat[] {
  const byParent = new Map<number, ProcStat[]>();
  for (const s of stats) byParent.set(s.ppid, [...(byParent.get(s.ppid) ?? []), s]);
  const out: ProcStat[] = [];
  const queue = [root];
  const seen = new Set<number>([root]);
  while (queue.length) {
    for (const child of byParent.get(queue.shift() as number) ?? []) {
      if (seen.has(child.pid)) continue;
      seen.add(child.pid);
      out.push(child);
      queue.push(child.pid);
    }
  }
  return out;
}

/**
 * CPU ticks of a process tree (issue #14, `--cluster`): the root's own and its reaped children's,
 * plus every live descendant's own. PostgreSQL runs one backend process per connection, so the
 * postmaster's own CPU is nearly nothing; a backend that exits during a window moves from the
 * live sum into the postmaster's cutime, so the total stays continuous.
 */
export function treeTicks(stats: readonly ProcStat[], root: number): number | null {
  const r = stats.find((s) => s.pid === root);
  if (!r) return null;
  return r.selfTicks + r.childTicks + descendants(stats, root).reduce((a, s) => a + s.selfTicks, 0);
}

function allProcStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const s = parseProcStat(readFileSync(`/proc/${name}/stat`, 'utf8'));
      if (s) out.push(s);
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** CPU seconds of a process and all its descendants (see treeTicks), or null if it is gone. */
export function treeCpuSeconds(pid: number): number | null {
  const t = treeTicks(allProcStats(), pid);
  return t === null ? null : t / clkTck;
}

/**
 * Proportional set size of a process and its live descendants, in bytes: PostgreSQL's backends
 * share its buffers, so a sum of RSS would count them once per backend; PSS splits shared pages
 * between the processes mapping them.
 */
export function treePssBytes(pid: number): number | null {
  const pids = [pid, ...descendants(allProcStats(), pid).map((s) => s.pid)];
  let total = 0;
  let any = false;
  for (const p of pids) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'));
      if (m) {
        total += Number(m[1]) * 1024;
        any = true;
      }
    } catch {
      // exited meanwhile
    }
  }
  return any ? total : null;
}

/** Resident set size in bytes, or null if the process is gone. */
export function rssBytes(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Issue #15: a process's RSS split as the kernel counts it (`/proc/<pid>/status`), MiB: anonymous
 * pages (heap, malloc, stacks) and file-backed ones (the node binary, shared libraries), or null.
 */
export function rssPartsMiB(pid: number): { anon: number; file: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? Number.NaN);
    return { anon: Math.round(kb('RssAnon') / 102.4) / 10, file: Math.round(kb('RssFile') / 102.4) / 10 };
  } catch {
    return null;
  }
}

/**
 * CPU use of several processes over a window: call start(), then end() → % of one core each.
 * `trees` names the keys whose descendants count too (issue #14: PostgreSQL's backends).
 */
export function cpuWindow(pids: Record<string, number | undefined>, trees: readonly string[] = []) {
  const t0 = Date.now();
  const c0: Record<string, number> = {};
  const read = (k: string, pid: number) => (trees.includes(k) ? treeCpuSeconds(pid) : cpuSeconds(pid));
  for (const [k, pid] of Object.entries(pids)) if (pid) c0[k] = read(k, pid) ?? 0;
  return () => {
    const wallS = (Date.now() - t0) / 1000;
    const out: Record<string, number> = {};
    for (const [k, pid] of Object.entries(pids)) {
      if (!pid) continue;
      const c1 = read(k, pid);
      if (c1 !== null) out[k] = round(((c1 - (c0[k] ?? 0)) / wallS) * 100, 1);
    }
    return { wallS: round(wallS, 1), pctOfOneCore: out };
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function round(x: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Nearest-rank percentile of an unsorted array (p in 0..1); null when empty. */
export function pct(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? null;
}

/** Rejects after ms with a clear message; the caller's finally blocks stop what it started. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`${what}: hard timeout after ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

export async function waitFor(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  intervalMs = 200,
): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await sleep(intervalMs);
  }
}
