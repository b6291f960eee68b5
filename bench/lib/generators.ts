/** Fork and drive load generator processes (bench/load/fleet.ts) over IPC. */
import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import type { FromGenerator, GenDevice, ToGenerator } from '../load/protocol.ts';
import { stopChild, track } from './proc.ts';
import { ROOT_DIR } from './systems.ts';

/** Sockets one generator may hold: `ulimit -n` minus room for the process's own files. */
export const MAX_SOCKETS_PER_GENERATOR = 9_500;

export interface Generator {
  child: ChildProcess;
  pid: number;
  send(msg: ToGenerator): void;
  next<T extends FromGenerator['type']>(
    type: T,
    timeoutMs: number,
  ): Promise<Extract<FromGenerator, { type: T }>>;
  last: { fleetStats: Extract<FromGenerator, { type: 'fleetStats' }> | null; connected: number };
  stop(): Promise<void>;
}

function forkGenerator(): Promise<Generator> {
  const child = track(
    fork(join(ROOT_DIR, 'bench/load/fleet.ts'), [], {
      execArgv: ['--import', 'tsx'],
      cwd: ROOT_DIR,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  const waiters: Array<{ type: string; resolve: (m: FromGenerator) => void }> = [];
  const last: Generator['last'] = { fleetStats: null, connected: 0 };
  child.on('message', (m: FromGenerator) => {
    if (m.type === 'fleetStats') last.fleetStats = m;
    if (m.type === 'progress') last.connected = m.connected;
    if (m.type === 'error') process.stderr.write(`bench: generator ${child.pid}: ${m.message}\n`);
    const i = waiters.findIndex((w) => w.type === m.type);
    if (i >= 0) waiters.splice(i, 1)[0]?.resolve(m);
  });
  const next: Generator['next'] = (type, timeoutMs) =>
    new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`generator: no '${type}' within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onExit = (code: number | null) =>
        reject(new Error(`generator exited (${code}) waiting for '${type}'`));
      child.once('exit', onExit);
      waiters.push({
        type,
        resolve: (m) => {
          clearTimeout(t);
          child.off('exit', onExit);
          resolve(m as never);
        },
      });
    });
  const g: Generator = {
    child,
    pid: child.pid ?? 0,
    send: (msg) => child.send(msg),
    next,
    last,
    async stop() {
      if (child.connected) child.send({ cmd: 'quit' });
      await stopChild(child, 3_000);
    },
  };
  return next('ready', 30_000).then(() => g);
}

/** Split the devices over ceil(n / MAX_SOCKETS_PER_GENERATOR) generators (at least `min`). */
export async function startGenerators(
  url: string,
  devices: GenDevice[],
  opts: { min?: number; connectConcurrency?: number } = {},
): Promise<Generator[]> {
  const count = Math.max(opts.min ?? 1, Math.ceil(devices.length / MAX_SOCKETS_PER_GENERATOR));
  const gens = await Promise.all(Array.from({ length: count }, () => forkGenerator()));
  await Promise.all(
    gens.map((g, i) => {
      const slice = devices.filter((_, k) => k % count === i);
      g.send({ cmd: 'init', url, devices: slice, connectConcurrency: opts.connectConcurrency ?? 500 });
      return g.next('ready', 30_000);
    }),
  );
  return gens;
}

export async function connectAll(gens: Generator[], timeoutMs: number) {
  const t0 = Date.now();
  const replies = await Promise.all(
    gens.map((g) => {
      const p = g.next('connected', timeoutMs);
      g.send({ cmd: 'connect' });
      return p;
    }),
  );
  return {
    connected: replies.reduce((a, r) => a + r.connected, 0),
    failed: replies.reduce((a, r) => a + r.failed, 0),
    retried: replies.reduce((a, r) => a + r.retried, 0),
    ms: Date.now() - t0,
    errors: replies.flatMap((r) => r.errors),
  };
}

export const stopGenerators = (gens: Generator[]) => Promise.all(gens.map((g) => g.stop()));
