import type { Static } from '@sinclair/typebox';
import type { FastifyBaseLogger } from 'fastify';
import { badRequest, type ErrorCode, WwError } from '../core/errors.ts';
import type { DeviceRegistry } from '../registry/registry.ts';
import { NewDeviceBody } from './schemas.ts';
import { compileChecker } from './validation.ts';

/**
 * Bulk provisioning: a JSON array of device objects (the POST /devices body) or CSV with a header
 * row. Every row is validated and created on its own, so one bad row never stops the others; the
 * answer lists each row's outcome. Rows are numbered from 1 (for CSV: the first line after the header).
 */

export const MAX_IMPORT_ROWS = 10_000;
export const CSV_COLUMNS = [
  'id',
  'kind',
  'name',
  'ward',
  'lat',
  'lon',
  'address',
  'heartbeatIntervalS',
  'parentId',
  'powerZone',
  'protocol',
  'topic',
  'tags',
];
const REQUIRED_CSV_COLUMNS = ['id', 'kind', 'name', 'ward', 'lat', 'lon'];

export type ImportRowResult =
  | { row: number; id: string | null; status: 'created'; secret: string }
  | { row: number; id: string | null; status: 'error'; error: { error: ErrorCode; message: string } };

export interface ImportResult {
  created: number;
  failed: number;
  results: ImportRowResult[];
}

type Row = { ok: true; value: unknown } | { ok: false; id: string | null; message: string };

const checkDevice = compileChecker(NewDeviceBody);
const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** CSV cells are text: convert the numeric ones and `tags` (`k=v;k=v`); leave bad text for validation to name. */
function csvRecordToDevice(record: Record<string, string | undefined>): Row {
  const out: Record<string, unknown> = {};
  const id = record.id ?? null;
  for (const [column, raw] of Object.entries(record)) {
    if (raw === undefined || raw === '') continue;
    switch (column) {
      case 'lat':
      case 'lon':
      case 'heartbeatIntervalS':
        out[column] = NUMBER_RE.test(raw) ? Number(raw) : raw;
        break;
      case 'tags': {
        const tags: Record<string, string> = {};
        for (const pair of raw.split(';')) {
          if (pair.trim() === '') continue;
          const eq = pair.indexOf('=');
          if (eq <= 0) return { ok: false, id, message: `tags: expected k=v;k=v, got '${pair}'` };
          tags[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
        }
        out.tags = tags;
        break;
      }
      default:
        out[column] = raw;
    }
  }
  return { ok: true, value: out };
}

/** csv-parse, imported on the first CSV import (issue #15: a ward rarely imports; ~0.4 MiB of heap). */
let csvParser: Promise<typeof import('csv-parse/sync').parse> | null = null;
const loadCsvParser = () => {
  csvParser ??= import('csv-parse/sync').then((m) => m.parse);
  return csvParser;
};

/** Parses a CSV body into rows. Header problems and broken CSV fail the whole request (400). */
export async function csvRows(text: string): Promise<Row[]> {
  const parseCsv = await loadCsvParser();
  let records: Array<Record<string, string | undefined>>;
  try {
    records = parseCsv(text, {
      bom: true,
      columns: (header: string[]) => {
        const names = header.map((h) => h.trim());
        const unknown = names.filter((n) => !CSV_COLUMNS.includes(n));
        if (unknown.length > 0) {
          throw badRequest(
            `body: unknown CSV column(s) ${unknown.join(', ')}; expected ${CSV_COLUMNS.join(',')}`,
          );
        }
        const missing = REQUIRED_CSV_COLUMNS.filter((c) => !names.includes(c));
        if (missing.length > 0) throw badRequest(`body: CSV header lacks column(s) ${missing.join(', ')}`);
        return names;
      },
      skip_empty_lines: true,
      trim: true,
      // A short or long line is that row's problem, not the file's.
      relax_column_count: true,
    }) as Array<Record<string, string | undefined>>;
  } catch (err) {
    if (err instanceof WwError) throw err;
    throw badRequest(`body: invalid CSV (${(err as Error).message})`);
  }
  return records.map(csvRecordToDevice);
}

export function jsonRows(items: readonly unknown[]): Row[] {
  return items.map((value) => ({ ok: true, value }));
}

/**
 * Creates the valid rows through the registry in one batch (one database transaction, issue #14).
 * `mayCreateIn(ward)` is the caller's ward scope: a row for a ward the caller cannot see fails with
 * WW_ERR_API_FORBIDDEN. Rows keep their own outcome: a refused row never stops the others.
 */
export async function importDevices(
  rows: readonly Row[],
  deps: {
    registry: DeviceRegistry;
    mayCreateIn: (ward: string) => boolean;
    /** false: the row's parentId names a device the caller may not tie to (another ward). */
    mayUseParent?: (parentId: string) => boolean;
    log: FastifyBaseLogger;
  },
): Promise<ImportResult> {
  const { registry, mayCreateIn, log } = deps;
  if (rows.length > MAX_IMPORT_ROWS) throw badRequest(`body: at most ${MAX_IMPORT_ROWS} rows per import`);
  const results: ImportRowResult[] = [];
  const fail = (row: number, id: string | null, error: ErrorCode, message: string) => {
    results[row - 1] = { row, id, status: 'error', error: { error, message } };
  };
  /** Rows that passed the checks here, for the registry's batch. */
  const accepted: Array<{ row: number; id: string | null; device: Static<typeof NewDeviceBody> }> = [];
  for (const [i, r] of rows.entries()) {
    const row = i + 1;
    if (!r.ok) {
      fail(row, r.id, 'WW_ERR_API_BAD_REQUEST', r.message);
      continue;
    }
    const value = r.value;
    const rawId = (value as { id?: unknown } | null)?.id;
    const id = typeof rawId === 'string' ? rawId : null;
    const problem = checkDevice(value);
    if (problem) {
      fail(row, id, 'WW_ERR_API_BAD_REQUEST', problem.replace(/^body: /, 'row: '));
      continue;
    }
    const device = value as Static<typeof NewDeviceBody>;
    if (!mayCreateIn(device.ward)) {
      fail(row, id, 'WW_ERR_API_FORBIDDEN', `no access to ward '${device.ward}'`);
      continue;
    }
    if (typeof device.parentId === 'string' && deps.mayUseParent && !deps.mayUseParent(device.parentId)) {
      fail(row, id, 'WW_ERR_API_FORBIDDEN', `parentId: no access to the ward of '${device.parentId}'`);
      continue;
    }
    accepted.push({ row, id, device });
  }
  try {
    const outcomes = await registry.createMany(accepted.map((a) => a.device));
    for (const [i, { row, id }] of accepted.entries()) {
      const outcome = outcomes[i];
      if (outcome === undefined || outcome instanceof WwError) {
        const err = outcome ?? new WwError('WW_ERR_API_INTERNAL', 'internal error');
        if (err.statusCode < 500) fail(row, id, err.code, err.message);
        else fail(row, id, 'WW_ERR_API_INTERNAL', 'internal error');
      } else results[row - 1] = { row, id, status: 'created', secret: outcome.secret };
    }
  } catch (err) {
    // The database refused the batch: nothing of it was stored, every accepted row says so.
    log.error({ err, rows: accepted.length }, 'device import batch failed');
    for (const { row, id } of accepted) fail(row, id, 'WW_ERR_API_INTERNAL', 'internal error');
  }
  const created = results.filter((r) => r.status === 'created').length;
  return { created, failed: results.length - created, results };
}
