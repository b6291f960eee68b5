/**
 * Issue #15: what the write-ahead log's lazy commits cost a quiet ward. A ward's devices send QoS 0
 * (~47 messages/s at 1,000 devices, the ward scenario), so every line is lazy and is committed
 * within `influx.spool.lazyCommitIntervalMs`: one write + fdatasync per interval, while segments
 * are sealed (and handed to InfluxDB) once a second anyway.
 *
 * The write-ahead log alone (`createWal`, as `influx-storage.ts` configures it) in this process:
 * lines at `--rate` per second, each sealed segment removed at once (as the InfluxDB writer does
 * after its post), `--seconds` per setting, the settings of `--lazy` alternating; the CPU of the
 * whole process (user + system, libuv's threads included: the fdatasyncs run there).
 *
 *   node --import tsx bench/wal-commit-cpu.ts [--rate 47] [--seconds 30] [--lazy 100,1000,100,1000]
 *
 * The data dir is under the repository (the disk the service's data dir is on), removed after.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock } from '../services/core/clock.ts';
import { createLogger } from '../services/core/logger.ts';
import { createWal, type Wal } from '../services/storage/wal.ts';
import { ROOT_DIR } from './lib/systems.ts';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '47' },
    seconds: { type: 'string', default: '30' },
    lazy: { type: 'string', default: '100,1000,100,1000' },
  },
});
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);

const line = (i: number) =>
  `heartbeat,deviceId=w${String(i % 1000).padStart(5, '0')},kind=camera,ward=bench-ward seq=${i},uptime=${i} ${Date.now()}000000\n`;

async function run(lazyMs: number): Promise<void> {
  const dir = mkdtempSync(join(ROOT_DIR, '.tmp-wal-commit-cpu-'));
  const removing: Promise<void>[] = [];
  const wal: Wal = createWal({
    dir,
    maxBytes: 1 << 30,
    segmentPoints: 5000,
    segmentAgeMs: 1000,
    commitIntervalMs: 2,
    lazyCommitIntervalMs: lazyMs,
    memoryBytes: 64 << 20,
    clock: systemClock,
    log: createLogger('silent'),
    onSealed: () => {
      for (const s of [...wal.sealed]) removing.push(wal.remove(s));
    },
    onOverflow: () => undefined,
  });
  await wal.open();
  const cpu0 = process.cpuUsage();
  const start = Date.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.floor(((Date.now() - start) / 1000) * RATE);
      for (; sent < due; sent++) wal.append(line(sent), undefined, { lazy: true });
      if (Date.now() - start >= SECONDS * 1000) {
        clearInterval(timer);
        resolve();
      }
    }, 20);
  });
  const cpu = process.cpuUsage(cpu0);
  const commits = wal.stats().commits;
  await wal.close();
  await Promise.all(removing);
  rmSync(dir, { recursive: true, force: true });
  const perS = (us: number) => (us / 1000 / SECONDS).toFixed(2);
  console.log(
    `| ${lazyMs} | ${sent} | ${commits} | ${perS(cpu.user + cpu.system)} | ${perS(cpu.user)} | ${perS(cpu.system)} |`,
  );
}

console.log(`wal-commit-cpu: ${RATE} lazy lines/s, segments of 1 s, ${SECONDS} s per setting`);
console.log('| lazyCommitIntervalMs | lines | commits | CPU ms/s | user | system |');
console.log('| --: | --: | --: | --: | --: | --: |');
for (const lazy of String(args.lazy).split(',').map(Number)) await run(lazy);
