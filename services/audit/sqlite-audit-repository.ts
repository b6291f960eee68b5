import type { Database } from '../core/sqlite.ts';
import { type AuditRecord, type AuditRepository, toPage } from './audit-repository.ts';

interface Row {
  id: number;
  at: number;
  actor: string | null;
  action: string;
  target: string | null;
  wards: string;
  status_code: number;
  ip: string;
  detail: string | null;
}

const toRecord = (r: Row): AuditRecord => ({
  id: r.id,
  at: r.at,
  actor: r.actor,
  action: r.action,
  target: r.target,
  wards: JSON.parse(r.wards) as string[],
  statusCode: r.status_code,
  ip: r.ip,
  detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null,
});

/** The audit log in SQLite (migration 4); JSON columns are text, read through json_each. */
export function createSqliteAuditRepository(db: Database): AuditRepository {
  const insert = db.prepare<[Record<string, unknown>]>(
    `INSERT INTO audit_log (at, actor, action, target, wards, status_code, ip, detail)
     VALUES (@at, @actor, @action, @target, @wards, @statusCode, @ip, @detail)`,
  );

  return {
    async append(r) {
      const result = insert.run({
        ...r,
        wards: JSON.stringify(r.wards),
        detail: r.detail === null ? null : JSON.stringify(r.detail),
      });
      return Number(result.lastInsertRowid);
    },

    async list(f) {
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (clause: string, value: unknown) => {
        where.push(clause);
        params.push(value);
      };
      if (f.actor !== undefined) add('actor = ?', f.actor);
      if (f.action !== undefined) add('action = ?', f.action);
      if (f.target !== undefined) add('target = ?', f.target);
      if (f.ward !== undefined)
        add('EXISTS (SELECT 1 FROM json_each(audit_log.wards) w WHERE w.value = ?)', f.ward);
      if (f.fromMs !== undefined) add('at >= ?', f.fromMs);
      if (f.toMs !== undefined) add('at < ?', f.toMs);
      if (f.beforeId !== undefined) add('id < ?', f.beforeId);
      if (f.wards !== undefined)
        add(
          `wards <> '[]' AND NOT EXISTS (SELECT 1 FROM json_each(audit_log.wards) w
             WHERE w.value NOT IN (SELECT value FROM json_each(?)))`,
          JSON.stringify(f.wards),
        );
      const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY id DESC LIMIT ?`;
      const rows = db.prepare<unknown[], Row>(sql).all(...params, f.limit + 1);
      return toPage(rows.map(toRecord), f.limit);
    },
  };
}
