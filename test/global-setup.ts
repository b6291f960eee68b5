import type { TestProject } from 'vitest/node';
import { startInfluxd } from './helpers/influxd.ts';
import { startPostgres } from './helpers/postgres.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Base URL of the shared influxd (`http://127.0.0.1:PORT`); each test file uses its own database. */
    influxUrl: string;
    /**
     * Superuser URL of the shared PostgreSQL (issue #14); each test file makes its own database with
     * `createTestDatabase` (test/helpers/postgres.ts).
     */
    postgresUrl: string;
  }
}

/**
 * One real influxd and one real PostgreSQL for the whole run. Started even when only unit tests run: it takes well under
 * a second, and a missing binary fails loudly here rather than as a confusing test failure.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Both servers start in parallel: well under two seconds together.
  const [influxd, postgres] = await Promise.all([startInfluxd(), startPostgres()]);
  project.provide('influxUrl', influxd.url);
  project.provide('postgresUrl', postgres.url);
  return async () => {
    await Promise.all([influxd.destroy(), postgres.destroy()]);
  };
}
