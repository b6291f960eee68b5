import type { User } from '../auth/users.ts';
import type { Config } from '../core/config.ts';
import type { Database } from '../core/sqlite.ts';

/**
 * Who gets a new alert of a ward (issue #3): the ward's default technician from
 * `alerts.defaultAssignee`, else the next technician in turn (round-robin, by username) among
 * users with role technician who may see the ward (empty wards = every ward); null when none.
 * The last pick per ward is kept in SQLite so the rotation survives restarts.
 */
export function createAssigner(deps: {
  db: Database;
  config: Pick<Config, 'alerts'>;
  users: { list(): User[] };
}): (ward: string) => string | null {
  const { db, config, users } = deps;
  const getLast = db.prepare<[string], { last_assignee: string }>(
    'SELECT last_assignee FROM ward_assignment WHERE ward = ?',
  );
  const setLast = db.prepare<[string, string]>(
    `INSERT INTO ward_assignment (ward, last_assignee) VALUES (?, ?)
     ON CONFLICT (ward) DO UPDATE SET last_assignee = excluded.last_assignee`,
  );
  return (ward) => {
    const fixed = config.alerts.defaultAssignee[ward];
    if (fixed) return fixed;
    const techs = users
      .list()
      .filter((u) => u.role === 'technician' && (u.wards.length === 0 || u.wards.includes(ward)))
      .map((u) => u.username);
    const next = nextInTurn(techs, getLast.get(ward)?.last_assignee ?? null);
    if (next !== null) setLast.run(ward, next);
    return next;
  };
}

/** The first name after `last` in sorted order, wrapping around (pure). */
export function nextInTurn(names: readonly string[], last: string | null): string | null {
  const sorted = [...names].sort();
  if (sorted.length === 0) return null;
  if (last === null) return sorted[0] ?? null;
  return sorted.find((n) => n > last) ?? sorted[0] ?? null;
}
