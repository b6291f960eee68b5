import type { User } from '../auth/users.ts';
import type { Config } from '../core/config.ts';
import type { SyncAssignmentRotation } from './assignment-repository.ts';

/**
 * Who gets a new alert of a ward (issue #3): the ward's default technician from
 * `alerts.defaultAssignee`, else the next technician in turn (round-robin, by username) among
 * users with role technician who may see the ward (empty wards = every ward); null when none.
 * The last pick per ward is kept in the rotation's repository (issue #14:
 * sqlite-assignment-repository.ts), so the rotation survives restarts.
 */
export function createAssigner(deps: {
  rotation: SyncAssignmentRotation;
  config: Pick<Config, 'alerts'>;
  users: { list(): User[] };
}): (ward: string) => string | null {
  const { rotation, config, users } = deps;
  return (ward) => {
    const fixed = config.alerts.defaultAssignee[ward];
    if (fixed) return fixed;
    const techs = users
      .list()
      .filter((u) => u.role === 'technician' && (u.wards.length === 0 || u.wards.includes(ward)))
      .map((u) => u.username);
    // Issue #15: nobody to pick means no rotation to read or move (the same null), so a storm in a
    // ward without technicians does not pay a savepoint and a look-up per alert.
    if (techs.length === 0) return null;
    return rotation.advanceNow(ward, (last) => nextInTurn(techs, last));
  };
}

/** The first name after `last` in sorted order, wrapping around (pure). */
export function nextInTurn(names: readonly string[], last: string | null): string | null {
  const sorted = [...names].sort();
  if (sorted.length === 0) return null;
  if (last === null) return sorted[0] ?? null;
  return sorted.find((n) => n > last) ?? sorted[0] ?? null;
}
