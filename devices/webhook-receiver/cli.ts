import { parseArgs } from 'node:util';
import { startReceiver } from './receiver.ts';

/**
 * `node --import tsx devices/webhook-receiver/cli.ts [--port 8091] [--host 127.0.0.1]`; the shared
 * secret comes from WARDWATCH_DEMO_WEBHOOK_SECRET (never on the command line, where `ps` shows it).
 * Started and stopped by scripts/demo.sh (issue #12 item 10).
 */
const { values } = parseArgs({
  options: { port: { type: 'string', default: '8091' }, host: { type: 'string', default: '127.0.0.1' } },
});
const secret = process.env.WARDWATCH_DEMO_WEBHOOK_SECRET ?? '';
if (secret.length < 16) {
  console.error('webhook-receiver: set WARDWATCH_DEMO_WEBHOOK_SECRET (at least 16 characters)');
  process.exit(2);
}
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`webhook-receiver: --port: not a port: ${values.port}`);
  process.exit(2);
}
const receiver = await startReceiver({ secret, port, host: values.host });
console.log(`webhook-receiver: listening on ${receiver.url} (POST /hook, page at /)`);
let last = 0;
const timer = setInterval(() => {
  const all = receiver.messages();
  for (const m of all.slice(last)) console.log(`webhook-receiver: ${m.event} ${m.subject}`);
  last = all.length;
}, 1000);
const stop = () => {
  clearInterval(timer);
  void receiver.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
