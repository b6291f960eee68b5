/**
 * Issue #15 (alloc lane): bytes allocated on the V8 heap while `fn` runs, garbage included. Node 20
 * has no allocation counter (`v8.getHeapStatistics()` has no `total_allocated_bytes`), so it is
 * summed from the GCs that happened meanwhile (v8.GCProfiler): the heap grew by (used before this
 * GC − used after the previous one) between two GCs, plus the growth since the last one. Promotion
 * and compaction move bytes without allocating, so this is exact up to what a GC itself allocates.
 */
import { GCProfiler, getHeapStatistics } from 'node:v8';

export interface AllocMeasure {
  bytes: number;
  gcs: number;
}

/** Starts counting; the returned function stops and says what was allocated meanwhile. */
function startMeter(): () => AllocMeasure {
  const profiler = new GCProfiler();
  const used0 = getHeapStatistics().used_heap_size;
  profiler.start();
  return () => {
    const used1 = getHeapStatistics().used_heap_size;
    const stats = profiler.stop()?.statistics ?? [];
    let bytes = 0;
    let prevAfter = used0;
    for (const gc of stats) {
      bytes += gc.beforeGC.heapStatistics.usedHeapSize - prevAfter;
      prevAfter = gc.afterGC.heapStatistics.usedHeapSize;
    }
    bytes += used1 - prevAfter;
    return { bytes, gcs: stats.length };
  };
}

export function measureAllocation(fn: () => void): AllocMeasure {
  const stop = startMeter();
  fn();
  return stop();
}

/** The same for work that awaits (sockets, timers): everything allocated until `fn` settles. */
export async function measureAllocationAsync(fn: () => Promise<void>): Promise<AllocMeasure> {
  const stop = startMeter();
  await fn();
  return stop();
}
