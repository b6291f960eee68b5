import { afterAll, describe, expect, inject, it } from 'vitest';
import { startTestApp, type TestApp } from '../../helpers/app.ts';

/**
 * Issue #14: wards, maintenance windows and notification channels sit behind asynchronous
 * repositories, and the features keep in memory what the synchronous paths read (a ward's name,
 * the windows liveness and rules check, the channels and routes the notifier uses). That copy is
 * loaded by each feature's start(): after a restart everything made through the API is back,
 * before the first decision.
 */
describe('a restart loads what the features keep in memory', () => {
  const apps: TestApp[] = [];
  afterAll(async () => {
    for (const a of apps.reverse()) await a.stop();
  });

  it('ward names, maintenance windows, channels and routes made before the restart are used after it', async () => {
    const influxBaseUrl = inject('influxUrl');
    const first = await startTestApp({ influxBaseUrl });
    await first.addDevice({ id: 'cam-hh-1', ward: 'hai-hoa' });
    const ward = await first.api('POST', '/api/v1/wards', {
      body: { id: 'hai-hoa', name: 'Phường Hải Hoà' },
    });
    expect(ward.status).toBe(201);
    const now = Date.now();
    const win = await first.api<{ id: number }>('POST', '/api/v1/maintenance', {
      body: {
        ward: 'hai-hoa',
        from: new Date(now - 60_000).toISOString(),
        to: new Date(now + 3_600_000).toISOString(),
      },
    });
    expect(win.status).toBe(201);
    const channel = await first.api('POST', '/api/v1/notification-channels', {
      body: {
        name: 'app-hook',
        type: 'webhook',
        url: 'http://127.0.0.1:9/hook',
        secret: 'hook-secret-0123456789',
      },
    });
    expect(channel.status).toBe(201);
    const route = await first.api('POST', '/api/v1/notification-routes', {
      body: { channel: 'app-hook', wards: ['hai-hoa'], recipients: ['hh-team'] },
    });
    expect(route.status).toBe(201);
    await first.stop(false);

    const again = await startTestApp({ influxBaseUrl, dataDir: first.dataDir });
    apps.push(again);
    // Maintenance: the synchronous check liveness, rules and root cause make.
    const device = again.app.devices.get('cam-hh-1');
    expect(device).not.toBeNull();
    expect(again.app.maintenance.suppressionFor(device as NonNullable<typeof device>, Date.now())).toEqual({
      reason: 'maintenance',
      ref: String(win.body.id),
    });
    // Channels and routes: what the API lists is the notifier's copy.
    const channels = await again.api<{ items: Array<{ name: string; source: string }> }>(
      'GET',
      '/api/v1/notification-channels',
    );
    expect(channels.body.items.filter((c) => c.source === 'app').map((c) => c.name)).toEqual(['app-hook']);
    const routes = await again.api<{ items: Array<{ channel: string; source: string }> }>(
      'GET',
      '/api/v1/notification-routes',
    );
    expect(routes.body.items.filter((r) => r.source === 'app').map((r) => r.channel)).toEqual(['app-hook']);
    // Ward names: the report reads them synchronously (nameOf).
    const report = await again.api<{ byWard: Array<{ ward: string; wardName: string }> }>(
      'GET',
      '/api/v1/reports/availability?ward=hai-hoa',
    );
    expect(report.status).toBe(200);
    expect(report.body.byWard).toEqual([
      expect.objectContaining({ ward: 'hai-hoa', wardName: 'Phường Hải Hoà' }),
    ]);
  });
});
