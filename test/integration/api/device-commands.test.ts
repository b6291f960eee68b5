import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from './harness.ts';

/**
 * POST /api/v1/devices/:id/commands/:command (issue #14): thin over `ApiDeps.commands` (in cluster
 * mode the node bridge's sessions, which forward to the node holding the session; across real
 * nodes in test/cluster/core-checks.test.ts). Roles, ward scope, validation, audit, and a command the
 * holder did not take.
 */
const sent: Array<{ deviceId: string; command: string; payload: string }> = [];
let refuse = false;
let h: Harness;

beforeAll(async () => {
  h = await createHarness({
    deps: () => ({
      commands: {
        async sendCommand(deviceId, command, payload) {
          if (refuse) throw new Error("node 'b' holding the session is not listening");
          sent.push({ deviceId, command, payload });
        },
      },
    }),
  });
  for (const [id, ward] of [
    ['cam-cmd-1', 'binh-ngoc'],
    ['cam-cmd-2', 'hoa-chung'],
  ] as const) {
    const res = await h.call('POST', '/api/v1/devices', {
      token: h.adminToken,
      body: { id, kind: 'camera', name: `Camera ${id}`, ward, lat: 21.53, lon: 107.96 },
    });
    expect(res.status).toBe(201);
  }
});
afterAll(async () => {
  await h?.close();
});

describe('device commands (issue #14)', () => {
  it("sends the payload as JSON for an admin or a technician of the device's ward, and audits it", async () => {
    const res = await h.call('POST', '/api/v1/devices/cam-cmd-1/commands/reboot', {
      token: h.adminToken,
      body: { payload: { delayS: 5 } },
    });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ deviceId: 'cam-cmd-1', command: 'reboot' });
    const tech = await h.tokenFor('tech.cmd', 'technician', ['binh-ngoc']);
    expect(
      (await h.call('POST', '/api/v1/devices/cam-cmd-1/commands/probe', { token: tech, body: {} })).status,
    ).toBe(202);
    expect(sent).toEqual([
      { deviceId: 'cam-cmd-1', command: 'reboot', payload: '{"delayS":5}' },
      { deviceId: 'cam-cmd-1', command: 'probe', payload: '{}' },
    ]);
    const audit = await h.call('GET', '/api/v1/audit?action=device.command', { token: h.adminToken });
    expect(audit.body.items.map((e: { target: string; actor: string }) => [e.target, e.actor])).toEqual(
      expect.arrayContaining([
        ['cam-cmd-1', 'admin'],
        ['cam-cmd-1', 'tech.cmd'],
      ]),
    );
  });

  it("refuses a viewer, another ward's technician, an unknown device and a bad command name", async () => {
    const before = sent.length;
    const viewer = await h.tokenFor('viewer.cmd', 'viewer', ['binh-ngoc']);
    const otherTech = await h.tokenFor('tech.hc', 'technician', ['hoa-chung']);
    const cases: Array<[string, string, number]> = [
      [viewer, '/api/v1/devices/cam-cmd-1/commands/reboot', 403],
      [otherTech, '/api/v1/devices/cam-cmd-1/commands/reboot', 403],
      [h.adminToken, '/api/v1/devices/nobody/commands/reboot', 404],
      [h.adminToken, '/api/v1/devices/cam-cmd-1/commands/Reboot%2F%23', 400],
    ];
    for (const [token, url, status] of cases) {
      const res = await h.call('POST', url, { token, body: {} });
      expect(res.status, url).toBe(status);
    }
    const extra = await h.call('POST', '/api/v1/devices/cam-cmd-1/commands/reboot', {
      token: h.adminToken,
      body: { payload: {}, topic: 'x' },
    });
    expect(extra.status).toBe(400);
    expect(sent.length).toBe(before);
  });

  it('answers 503 WW_ERR_DEVICE_COMMAND_UNDELIVERED when the session holder does not take it', async () => {
    refuse = true;
    const res = await h.call('POST', '/api/v1/devices/cam-cmd-2/commands/reboot', {
      token: h.adminToken,
      body: {},
    });
    refuse = false;
    expect(res.status).toBe(503);
    expect(res.body.error).toBe('WW_ERR_DEVICE_COMMAND_UNDELIVERED');
  });
});
