import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * One loopback cluster at a time per vitest run (issue #14). `npm test` runs two files at a time;
 * two clusters at once are six node processes on two cores, and under that load (load average 23)
 * a survivor took a killed node's partitions in 6.7 s, past the 6 s lease core-checks asserts: a
 * measurement of the test's own load, not of the product. `npm run test:cluster` already runs one
 * file at a time (vitest.cluster.config.ts); this gives `npm test` the same for the cluster files
 * only (the worker that waits here holds its slot meanwhile: a cost in wall time, not in load).
 *
 * A directory made with mkdir (atomic) under the run's vitest process id (the workers' parent), with
 * the holder's pid in it: a holder that died without releasing it (killed worker) is taken over.
 */
const WAIT_MS = 400_000;

export async function clusterTurn(): Promise<() => void> {
  const dir = join(tmpdir(), `ww-cluster-turn-${process.ppid}`);
  const owner = join(dir, 'pid');
  const since = Date.now();
  const deadline = since + WAIT_MS;
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(owner, String(process.pid));
      if (Date.now() - since > 1_000)
        process.stdout.write(`cluster test: waited ${Date.now() - since} ms for the other cluster file\n`);
      let held = true;
      return () => {
        // Once, and only while the turn is still this process's.
        if (!held) return;
        held = false;
        rmSync(dir, { recursive: true, force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder = 0;
    try {
      holder = Number(readFileSync(owner, 'utf8'));
    } catch {
      // being written or removed: look again
    }
    if (holder > 0 && !alive(holder)) rmSync(dir, { recursive: true, force: true });
    if (Date.now() > deadline)
      throw new Error(`another cluster test (pid ${holder}) held ${dir} for ${WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 250)); // a guard's poll for the other file's end, not a delay
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
