import { describe, expect, it } from 'vitest';
import {
  sortWindows,
  vnInputToIso,
  vnLocalInput,
  windowPhase,
} from '../../../services/web/src/maintenance-logic.ts';

/** Issue #12: the maintenance screen types and shows times in Vietnam time, whatever the browser's zone. */
describe('maintenance screen rules', () => {
  it('reads and writes datetime-local values as Vietnam time (UTC+7)', () => {
    const at = Date.parse('2026-12-03T17:30:00Z'); // 00:30 the next day in Hà Nội
    expect(vnLocalInput(at)).toBe('2026-12-04T00:30');
    expect(vnInputToIso('2026-12-04T00:30')).toBe('2026-12-04T00:30:00+07:00');
    expect(Date.parse(vnInputToIso(vnLocalInput(at)) ?? '')).toBe(at);
    expect(vnInputToIso('')).toBeNull();
    expect(vnInputToIso('04/12/2026 00:30')).toBeNull();
    expect(vnInputToIso('2026-13-45T99:99')).toBeNull();
  });

  it('orders windows: on now, then upcoming soonest first, then ended latest first', () => {
    const now = Date.parse('2026-12-03T05:00:00Z');
    const w = (id: number, from: string, to: string, active = false) => ({
      id,
      from,
      to,
      active,
      cron: null,
    });
    const sorted = sortWindows(
      [
        w(1, '2026-12-01T00:00:00Z', '2026-12-01T02:00:00Z'),
        w(2, '2026-12-04T00:00:00Z', '2026-12-04T02:00:00Z'),
        w(3, '2026-12-03T04:00:00Z', '2026-12-03T06:00:00Z', true),
        w(4, '2026-12-02T00:00:00Z', '2026-12-02T02:00:00Z'),
        w(5, '2026-12-03T08:00:00Z', '2026-12-03T09:00:00Z'),
      ],
      now,
    );
    expect(sorted.map((x) => x.id)).toEqual([3, 5, 2, 4, 1]);
    expect(windowPhase({ active: false, from: null, to: null, cron: '0 22 * * *' }, now)).toBe('upcoming');
  });
});
