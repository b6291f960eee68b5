/**
 * Run as its own process (`node --import tsx test/helpers/loaded-modules.ts '<overrides JSON>'`):
 * starts and stops a whole wardwatch with these config overrides, then prints which client
 * libraries the process loaded, as JSON `{pg, redis}` (issue #14: one process must load neither).
 * Both are CommonJS underneath (pg's ESM entry re-exports its CommonJS build), so whatever
 * imported them left them in the CommonJS module cache.
 */
import { createRequire } from 'node:module';
import { loadConfig } from '../../services/core/config.ts';
import { createWardwatch } from '../../services/main.ts';

const overrides = JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>;
const config = loadConfig({ env: {}, overrides });
const app = await createWardwatch(config, { edgeFeed: false });
await app.start();
await app.stop();
const cached = Object.keys(createRequire(import.meta.url).cache);
const loaded = (pkg: string) => cached.some((path) => path.includes(`/node_modules/${pkg}/`));
process.stdout.write(
  `${JSON.stringify({ pg: loaded('pg'), redis: loaded('redis') || loaded('@redis/client') })}\n`,
);
process.exit(0);
