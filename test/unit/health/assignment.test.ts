import { describe, expect, it } from 'vitest';
import type { User } from '../../../services/auth/users.ts';
import { createAssigner } from '../../../services/health/assignment.ts';
import type { PickNext, SyncAssignmentRotation } from '../../../services/health/assignment-repository.ts';

/** An in-memory rotation that counts how often it is asked (issue #15: the storm's per-alert cost). */
function countingRotation(): SyncAssignmentRotation & { calls: number; last: Map<string, string> } {
  const last = new Map<string, string>();
  return {
    calls: 0,
    last,
    advanceNow(ward: string, pick: PickNext) {
      this.calls++;
      const next = pick(last.get(ward) ?? null);
      if (next !== null) last.set(ward, next);
      return next;
    },
  };
}

const user = (username: string, role: User['role'], wards: string[] = []): User => ({
  username,
  role,
  wards,
});

describe('createAssigner', () => {
  it('takes turns among the technicians who may see the ward', () => {
    const rotation = countingRotation();
    const users = [user('tech-b', 'technician'), user('tech-a', 'technician', ['w1']), user('ann', 'admin')];
    const pick = createAssigner({
      rotation,
      config: { alerts: { defaultAssignee: {} } } as never,
      users: { list: () => users },
    });
    expect([pick('w1'), pick('w1'), pick('w1'), pick('w2'), pick('w2')]).toEqual([
      'tech-a',
      'tech-b',
      'tech-a',
      'tech-b',
      'tech-b',
    ]);
    expect(rotation.calls).toBe(5);
  });

  it('gives null without touching the rotation when no technician may see the ward', () => {
    const rotation = countingRotation();
    const users = [user('tech-a', 'technician', ['w1']), user('ann', 'admin')];
    const pick = createAssigner({
      rotation,
      config: { alerts: { defaultAssignee: {} } } as never,
      users: { list: () => users },
    });
    expect(pick('w2')).toBeNull();
    expect(pick('w2')).toBeNull();
    expect(rotation.calls).toBe(0);
    expect(pick('w1')).toBe('tech-a');
    expect(rotation.calls).toBe(1);
  });

  it("a ward's default technician comes first, without the rotation", () => {
    const rotation = countingRotation();
    const pick = createAssigner({
      rotation,
      config: { alerts: { defaultAssignee: { w1: 'tech-z' } } } as never,
      users: { list: () => [user('tech-a', 'technician')] },
    });
    expect(pick('w1')).toBe('tech-z');
    expect(rotation.calls).toBe(0);
  });
});
