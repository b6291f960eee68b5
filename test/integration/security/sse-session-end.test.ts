import { get, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestApp, type TestApp } from '../../helpers/app.ts';

/**
 * Issue #13 item 8 for real: a whole wardwatch with real time and a token that lives a few
 * seconds. The SSE stream opened with it must end by itself, within a second of `expiresAt`
 * (it used to stay open, delivering events, for as long as the client kept it).
 */
const TTL_S = 4;

describe('an SSE stream ends when its token expires (real clock)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ influxBaseUrl: inject('influxUrl'), overrides: { auth: { tokenTtlS: TTL_S } } });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('closes the stream at expiresAt with session.ended {reason: expired}', async () => {
    const login = await t.api<{ token: string; expiresAt: string }>('POST', '/api/v1/auth/login', {
      body: { username: 'admin', password: 'admin-test-password' },
      token: null,
    });
    expect(login.status).toBe(200);
    const expiresAt = Date.parse(login.body.expiresAt);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      get(`${t.httpUrl}/api/v1/events?token=${login.body.token}`, resolve).on('error', reject);
    });
    expect(res.statusCode).toBe(200);
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      text += chunk;
    });
    const closedAt = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`stream still open 20 s after login:\n${text}`)),
        20_000,
      );
      res.on('close', () => {
        clearTimeout(timer);
        resolve(Date.now());
      });
    });
    expect(text).toMatch(/event: session\.ended\ndata: \{"reason":"expired"\}\n\n$/);
    // Not before the token's expiry (the clock of this process is the service's).
    expect(closedAt).toBeGreaterThanOrEqual(expiresAt);
    // And the token is refused from then on.
    expect((await t.api('GET', '/api/v1/auth/me', { token: login.body.token })).status).toBe(401);
  });
});
