import { type TestApp, waitFor } from '../../helpers/app.ts';

export interface OutboxRow {
  id: number;
  subjectType: string;
  subjectId: string;
  event: string;
  channel: string;
  recipient: string;
  state: 'pending' | 'sent' | 'failed' | 'cancelled';
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
}

const HOUR_MS = 3_600_000;

/**
 * Issue #13 item 4: "nothing more is sent" as a fact of the outbox, not as a quiet moment after a
 * sleep. Rows are written synchronously on the bus (and after each send), and a row leaves
 * `pending` only once its attempt is over. So once every row is sent, failed or cancelled (or not
 * due for an hour, e.g. a 4-hourly repeat), no request is in flight and none will start during the
 * test: every request a receiver got is counted in `attempts`, and nothing more will come.
 * Waits for that state and returns the rows (oldest first).
 */
export async function quietOutbox(
  t: TestApp,
  what: string,
  now: () => number = Date.now,
): Promise<OutboxRow[]> {
  return waitFor(async () => {
    const res = await t.api<{ items: OutboxRow[]; nextCursor: string | null }>(
      'GET',
      '/api/v1/notifications?limit=500',
    );
    if (res.status !== 200) throw new Error(`notifications: ${res.status} ${JSON.stringify(res.body)}`);
    if (res.body.nextCursor !== null) throw new Error('more than one page of notifications');
    const horizon = now() + HOUR_MS;
    const quiet = res.body.items.every((n) => n.state !== 'pending' || Date.parse(n.nextAttemptAt) > horizon);
    return quiet ? [...res.body.items].sort((a, b) => a.id - b.id) : null;
  }, `outbox quiet: ${what}`);
}

/** Requests made for these rows: one per attempt. */
export const attemptsOf = (rows: readonly OutboxRow[]) => rows.reduce((n, r) => n + r.attempts, 0);
