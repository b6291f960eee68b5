import { parseArgs } from 'node:util';

/**
 * Configures the demo's webhook channel and route through the API (issue #12 item 10), as an
 * admin would in the app: channel `demo-webhook` → the local receiver, and one route sending every
 * alert and incident of the ward to it. Safe to run again on the same data directory: an existing
 * channel gets the new URL and secret, an existing route is kept.
 * `node --import tsx devices/webhook-receiver/setup-channel.ts --api URL --hook URL --ward binh-ngoc`
 * with WARDWATCH_DEMO_TOKEN (an admin token) and WARDWATCH_DEMO_WEBHOOK_SECRET in the environment.
 */
const CHANNEL = 'demo-webhook';
const RECIPIENT = 'ky-thuat-vien';

const { values } = parseArgs({
  options: {
    api: { type: 'string' },
    hook: { type: 'string' },
    ward: { type: 'string', default: 'binh-ngoc' },
  },
});
const token = process.env.WARDWATCH_DEMO_TOKEN ?? '';
const secret = process.env.WARDWATCH_DEMO_WEBHOOK_SECRET ?? '';
if (!values.api || !values.hook || !token || !secret) {
  console.error(
    'setup-channel: --api, --hook, WARDWATCH_DEMO_TOKEN and WARDWATCH_DEMO_WEBHOOK_SECRET are required',
  );
  process.exit(2);
}

async function call(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${values.api}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

const created = await call('POST', '/notification-channels', {
  name: CHANNEL,
  type: 'webhook',
  url: values.hook,
  secret,
});
if (created.status === 409) {
  const patched = await call('PATCH', `/notification-channels/${CHANNEL}`, { url: values.hook, secret });
  if (patched.status !== 200)
    throw new Error(`PATCH channel: ${patched.status} ${JSON.stringify(patched.json)}`);
} else if (created.status !== 201) {
  throw new Error(`POST channel: ${created.status} ${JSON.stringify(created.json)}`);
}
const routes = (await call('GET', '/notification-routes')).json as { items: Array<{ channel: string }> };
if (!routes.items.some((r) => r.channel === CHANNEL)) {
  const r = await call('POST', '/notification-routes', {
    channel: CHANNEL,
    wards: [values.ward],
    recipients: [RECIPIENT],
  });
  if (r.status !== 201) throw new Error(`POST route: ${r.status} ${JSON.stringify(r.json)}`);
}
const test = (await call('POST', `/notification-channels/${CHANNEL}/test`, {})).json as {
  ok: boolean;
  error: string | null;
};
if (!test.ok) throw new Error(`test message: ${test.error}`);
console.log(`setup-channel: ${CHANNEL} → ${values.hook}; test message delivered`);
