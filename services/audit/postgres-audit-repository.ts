import type { PgPool } from '../core/postgres/pool.ts';
import { type AuditRecord, type AuditRepository, toPage } from './audit-repository.ts';

interface Row {
  id: number;
  at: number;
  actor: string | null;
  action: string;
  target: string | null;
  /** JSONB columns come back parsed. */
  wards: string[];
  status_code: number;
  ip: string;
  detail: Record<string, unknown> | null;
}

const toRecord = (r: Row): AuditRecord => ({
  id: r.id,
  at: r.at,
  actor: r.actor,
  action: r.action,
  target: r.target,
  wards: r.wards,
  statusCode: r.status_code,
  ip: r.ip,
  detail: r.detail,
});

/**
 * The audit log in PostgreSQL (cluster mode, issue #14). Ward filters use JSONB operators: `?`
 * (the array holds this string) and `<@` (every element is in the reader's wards).
 */
export function createPostgresAuditRepository(pool: PgPool): AuditRepository {
  return {
    async append(r) {
      const { rows } = await pool.query<{ id: number }>(
        `INSERT INTO audit_log (at, actor, action, target, wards, status_code, ip, detail)
         VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8::jsonb) RETURNING id`,
        [
          r.at,
          r.actor,
          r.action,
          r.target,
          JSON.stringify(r.wards),
          r.statusCode,
          r.ip,
          r.detail === null ? null : JSON.stringify(r.detail),
        ],
      );
      return (rows[0] as { id: number }).id;
    },

    async list(f) {
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (clause: (p: string) => string, value: unknown) => {
        params.push(value);
        where.push(clause(`$${params.length}`));
      };
      if (f.actor !== undefined) add((p) => `actor = ${p}`, f.actor);
      if (f.action !== undefined) add((p) => `action = ${p}`, f.action);
      if (f.target !== undefined) add((p) => `target = ${p}`, f.target);
      if (f.ward !== undefined) add((p) => `wards ? ${p}`, f.ward);
      if (f.fromMs !== undefined) add((p) => `at >= ${p}`, f.fromMs);
      if (f.toMs !== undefined) add((p) => `at < ${p}`, f.toMs);
      if (f.beforeId !== undefined) add((p) => `id < ${p}`, f.beforeId);
      if (f.wards !== undefined)
        add((p) => `wards <> '[]'::jsonb AND wards <@ ${p}::jsonb`, JSON.stringify(f.wards));
      params.push(f.limit + 1);
      const { rows } = await pool.query<Row>(
        `SELECT id, at, actor, action, target, wards, status_code, ip, detail FROM audit_log
         ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${params.length}`,
        params,
      );
      return toPage(rows.map(toRecord), f.limit);
    },
  };
}
