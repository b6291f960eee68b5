import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { EventBus } from '../../../services/core/bus.ts';
import { systemClock } from '../../../services/core/clock.ts';
import type { WardwatchEvents } from '../../../services/core/events.ts';
import { createLogger } from '../../../services/core/logger.ts';
import { createPostgresPool, migratePostgres } from '../../../services/core/postgres/pool.ts';
import { createNotifier, type Notifier } from '../../../services/notify/notifier.ts';
import { createPostgresOutboxRepository } from '../../../services/notify/postgres-outbox-repository.ts';
import type { NotificationProvider } from '../../../services/notify/providers/provider.ts';
import type { NewDelivery, OutgoingMessage } from '../../../services/notify/types.ts';
import { waitFor } from '../../helpers/app.ts';
import { createTestDatabase, dropTestDatabase } from '../../helpers/postgres.ts';
import { notifyConfig } from '../../unit/notify/helpers.ts';

/** Records every request, per node; each send yields once so that the nodes' work interleaves. */
class RecordingProvider implements NotificationProvider {
  readonly type = 'webhook' as const;
  constructor(
    private readonly node: string,
    private readonly sent: Array<{ node: string; key: string }>,
  ) {}
  async send(_recipient: string, message: OutgoingMessage) {
    await nextTurn();
    this.sent.push({ node: this.node, key: message.idempotencyKey });
    return { providerMessageId: null };
  }
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const digestRow = (i: number): NewDelivery => ({
  subjectType: 'digest',
  subjectId: `phuong-${i % 7}:2026-12-03`,
  event: 'digest',
  seq: 0,
  ward: `phuong-${i % 7}`,
  channel: 'tg',
  recipient: String(100 + i),
  payload: JSON.stringify({ subject: 'Báo cáo ngày', text: `Phường ${i}`, data: {} }),
  dueAt: Date.now(),
});

describe('two notifiers sharing one PostgreSQL outbox (issue #14, cluster mode)', () => {
  it('every row is delivered exactly once, whichever node queued or claimed it', async () => {
    const url = await createTestDatabase(inject('postgresUrl'), 'notify');
    cleanups.push(() => dropTestDatabase(url));
    const sent: Array<{ node: string; key: string }> = [];
    const log = createLogger('silent');
    const cfg = notifyConfig({
      routes: [],
      delivery: { pollIntervalMs: 20, concurrency: 4 },
    });
    const nodes: Notifier[] = [];
    for (const node of ['node-1', 'node-2']) {
      const pool = createPostgresPool({ url, max: 4 });
      cleanups.push(() => pool.end());
      if (node === 'node-1') await migratePostgres(pool);
      const notifier = createNotifier({
        notify: cfg,
        log,
        clock: systemClock,
        bus: new EventBus<WardwatchEvents>(log),
        outbox: createPostgresOutboxRepository(pool),
        alerts: { get: () => null },
        devices: { get: () => null },
        providers: new Map([['tg', new RecordingProvider(node, sent)]]),
      });
      notifier.start();
      cleanups.push(() => notifier.stop());
      nodes.push(notifier);
    }
    const [one, two] = nodes as [Notifier, Notifier];
    // Both nodes queue overlapping rows (a double owner during a failover): 80 distinct deliveries.
    const rows = Array.from({ length: 80 }, (_, i) => digestRow(i));
    const added = await Promise.all([one.enqueue(rows.slice(0, 60)), two.enqueue(rows.slice(20))]);
    expect(added[0] + added[1]).toBe(80);

    // A row leaves `pending` only after its request: once none is pending, no request is running
    // or will start, so the count below is final (no sleep).
    await waitFor(async () => {
      const page = await one.list({ limit: 200 });
      return page.items.length === 80 && page.items.every((d) => d.state === 'sent');
    }, 'every row sent');
    // A row claimed twice would have a second request still running: stopping waits for it.
    await Promise.all([one.stop(), two.stop()]);
    expect(sent).toHaveLength(80);
    expect(new Set(sent.map((s) => s.key)).size).toBe(80);
  });
});
