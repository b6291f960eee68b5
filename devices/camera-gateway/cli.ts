import { resolve } from 'node:path';
import { type LevelWithSilent, pino } from 'pino';
import { loadGatewayConfig } from './config.ts';
import { createCameraGateway } from './gateway.ts';

/**
 * Entry point: `npx tsx devices/camera-gateway/cli.ts <config.yaml>` (or WARDWATCH_GATEWAY_CONFIG).
 * `--discover` probes once with WS-Discovery, prints the cameras not in the config, and exits.
 */
async function main(): Promise<number | null> {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--')) ?? process.env.WARDWATCH_GATEWAY_CONFIG;
  if (!file) {
    process.stderr.write('usage: camera-gateway <config.yaml> [--discover]\n');
    return 2;
  }
  const config = loadGatewayConfig(resolve(file));
  const log = pino({
    level: (process.env.WARDWATCH_LOG_LEVEL ?? 'info') as LevelWithSilent,
    base: { service: 'wardwatch-camera-gateway', gatewayId: config.mqtt.deviceId },
  });
  const gateway = createCameraGateway({ config, log });
  if (args.includes('--discover')) {
    const found = await gateway.discover();
    process.stdout.write(`${JSON.stringify(found, null, 2)}\n`);
    return 0;
  }
  await gateway.start();
  const stop = () => {
    gateway.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return null;
}

main().then(
  (code) => {
    if (code !== null) process.exit(code);
  },
  (err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  },
);
