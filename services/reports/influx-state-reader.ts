import { InfluxDB, escape as influxEscape } from 'influx';
import { type Config, parseInfluxUrl } from '../core/config.ts';
import { WwError } from '../core/errors.ts';
import { checkQueryTime } from '../core/query-time.ts';
import type { StateChange } from './availability.ts';

/** What the availability report needs from storage: device state changes (`device_state`). */
export interface StateHistoryReader {
  /** Per device: its last change before `fromMs` (the state at `from`) and the changes in [from, to). */
  stateHistory(q: {
    fromMs: number;
    toMs: number;
    ward?: string;
    deviceId?: string;
  }): Promise<Map<string, { initial: { state: string; sinceMs: number } | null; changes: StateChange[] }>>;
  /** Heartbeats of one device counted per window of `everyS` seconds (empty windows are 0). */
  heartbeatCounts(q: {
    deviceId: string;
    fromMs: number;
    toMs: number;
    everyS: number;
  }): Promise<Array<{ timeMs: number; count: number }>>;
}

type Raw = {
  results?: Array<{
    error?: string;
    series?: Array<{ tags?: Record<string, string>; values?: unknown[][] }>;
  }>;
};

/**
 * Reads `device_state` (written by health/liveness-service.ts on every transition) from InfluxDB.
 * Constructing it does no I/O. InfluxDB unreachable → WW_ERR_STORAGE_INFLUX_DOWN (503).
 */
export function createInfluxStateReader(config: Config): StateHistoryReader {
  const target = parseInfluxUrl(config.influx.url);
  const url = new URL(config.influx.url);
  const influx = new InfluxDB({
    host: target.host,
    port: target.port,
    protocol: target.protocol,
    database: target.database,
    ...(url.username
      ? { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) }
      : {}),
    pool: { maxRetries: 0, requestTimeout: config.influx.requestTimeoutMs },
  });
  const source = `${influxEscape.quoted(config.influx.retentionPolicy.name)}."device_state"`;

  const run = async (text: string): Promise<Raw> => {
    try {
      return (await influx.queryRaw(text, { precision: 'ms' })) as Raw;
    } catch (err) {
      const status = (err as { res?: { statusCode?: number } }).res?.statusCode;
      if (status === undefined || status >= 500) {
        throw new WwError('WW_ERR_STORAGE_INFLUX_DOWN', `InfluxDB unreachable: ${(err as Error).message}`, {
          cause: err,
        });
      }
      throw new WwError('WW_ERR_STORAGE_QUERY', `InfluxDB query failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
  };

  return {
    async heartbeatCounts({ deviceId, fromMs, toMs, everyS }) {
      // A time InfluxDB cannot represent would come back as a 502 (issue #13): 400 here instead.
      checkQueryTime('from', fromMs);
      checkQueryTime('to', toMs);
      const hb = `${influxEscape.quoted(config.influx.retentionPolicy.name)}."heartbeat"`;
      const raw = await run(
        `SELECT count("alive") AS "count" FROM ${hb} WHERE "deviceId" = ${influxEscape.stringLit(deviceId)} ` +
          `AND time >= ${Math.floor(fromMs)}ms AND time < ${Math.ceil(toMs)}ms GROUP BY time(${Math.floor(everyS)}s) fill(0)`,
      );
      const result = raw.results?.[0];
      if (result?.error) {
        if (/database not found|retention policy not found/i.test(result.error)) return [];
        throw new WwError('WW_ERR_STORAGE_QUERY', `InfluxDB query failed: ${result.error}`);
      }
      return (result?.series?.[0]?.values ?? []).map((row) => ({
        timeMs: Number(row[0]),
        count: typeof row[1] === 'number' ? row[1] : 0,
      }));
    },
    async stateHistory({ fromMs, toMs, ward, deviceId }) {
      checkQueryTime('from', fromMs);
      checkQueryTime('to', toMs);
      const filters: string[] = [];
      if (ward !== undefined) filters.push(`"ward" = ${influxEscape.stringLit(ward)}`);
      if (deviceId !== undefined) filters.push(`"deviceId" = ${influxEscape.stringLit(deviceId)}`);
      const extra = filters.map((f) => ` AND ${f}`).join('');
      const from = Math.floor(fromMs);
      const to = Math.ceil(toMs);
      const raw = await run(
        `SELECT last("state") AS "state" FROM ${source} WHERE time < ${from}ms${extra} GROUP BY "deviceId";` +
          `SELECT "state" FROM ${source} WHERE time >= ${from}ms AND time < ${to}ms${extra} GROUP BY "deviceId"`,
      );
      const out = new Map<
        string,
        { initial: { state: string; sinceMs: number } | null; changes: StateChange[] }
      >();
      const entry = (id: string) => {
        let e = out.get(id);
        if (!e) {
          e = { initial: null, changes: [] };
          out.set(id, e);
        }
        return e;
      };
      raw.results?.forEach((result, i) => {
        if (result.error) {
          // Nothing written yet: no history rather than an error.
          if (/database not found|retention policy not found/i.test(result.error)) return;
          throw new WwError('WW_ERR_STORAGE_QUERY', `InfluxDB query failed: ${result.error}`);
        }
        for (const series of result.series ?? []) {
          const id = series.tags?.deviceId;
          if (!id) continue;
          for (const row of series.values ?? []) {
            const atMs = Number(row[0]);
            const state = typeof row[1] === 'string' ? row[1] : 'unknown';
            if (i === 0) entry(id).initial = { state, sinceMs: atMs };
            else entry(id).changes.push({ atMs, state });
          }
        }
      });
      return out;
    },
  };
}
