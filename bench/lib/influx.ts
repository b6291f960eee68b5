/** Small InfluxDB 1.x HTTP helpers for the benchmark (queries with epoch ms). */

interface Series {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

export async function influxQuery(base: string, db: string, q: string): Promise<Series[]> {
  const url = `${base}/query?db=${encodeURIComponent(db)}&epoch=ms&q=${encodeURIComponent(q)}`;
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as {
    results?: Array<{ series?: Series[]; error?: string }>;
    error?: string;
  };
  if (!res.ok || body.error) throw new Error(`influx query failed (${res.status}): ${body.error ?? ''}`);
  const r = body.results?.[0];
  if (r?.error) throw new Error(`influx query failed: ${r.error}`);
  return r?.series ?? [];
}

export async function influxCommand(base: string, q: string): Promise<void> {
  const res = await fetch(`${base}/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `q=${encodeURIComponent(q)}`,
    signal: AbortSignal.timeout(30_000),
  });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`influx command failed (${res.status}): ${q}`);
}

/** Heartbeat points with time in [fromMs, toMs] (point time = the payload's ts). */
export async function countHeartbeats(
  base: string,
  db: string,
  fromMs: number,
  toMs: number,
): Promise<number> {
  const series = await influxQuery(
    base,
    db,
    `SELECT count(seq) FROM heartbeat WHERE time >= ${fromMs}ms AND time <= ${toMs}ms`,
  );
  const v = series[0]?.values[0]?.[1];
  return typeof v === 'number' ? v : 0;
}

/**
 * Heartbeat → InfluxDB latency by polling. InfluxDB does not store arrival time, so every
 * `intervalMs` the newest heartbeats of the probe devices (ids matching `idRegex`) are read; a
 * point seen for the first time gets latency = (time the query answered) − (its time, i.e. the
 * device's send `ts`). Upper bound; resolution = poll interval + query time (reported).
 */
export function startLatencyProbe(base: string, db: string, idRegex: string, intervalMs = 200) {
  const seen = new Set<string>();
  const latencies: number[] = [];
  const queryMs: number[] = [];
  let errors = 0;
  let running = true;
  let primed = false;
  const loop = (async () => {
    while (running) {
      const t0 = Date.now();
      try {
        const series = await influxQuery(
          base,
          db,
          `SELECT seq FROM heartbeat WHERE time > now() - 30s AND deviceId =~ /${idRegex}/ GROUP BY deviceId`,
        );
        const t1 = Date.now();
        queryMs.push(t1 - t0);
        for (const s of series) {
          const dev = s.tags?.deviceId ?? '';
          for (const row of s.values) {
            const time = row[0] as number;
            const key = `${dev}@${time}`;
            if (seen.has(key)) continue;
            seen.add(key);
            // Points already there at the first poll were written before we looked: no latency.
            if (primed) latencies.push(t1 - time);
          }
        }
        primed = true;
      } catch {
        errors++;
      }
      const wait = intervalMs - (Date.now() - t0);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { latencies, queryMs, errors };
    },
  };
}
