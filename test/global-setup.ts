import type { TestProject } from 'vitest/node';
import { startInfluxd } from './helpers/influxd.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Base URL of the shared influxd (`http://127.0.0.1:PORT`); each test file uses its own database. */
    influxUrl: string;
  }
}

/**
 * One real influxd for the whole run. Started even when only unit tests run: it takes well under
 * a second, and a missing binary fails loudly here rather than as a confusing test failure.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const influxd = await startInfluxd();
  project.provide('influxUrl', influxd.url);
  return async () => {
    await influxd.destroy();
  };
}
