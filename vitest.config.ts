import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One real influxd for the whole run (test/global-setup.ts); each test file uses its own database.
    globalSetup: ['test/global-setup.ts'],
    // Guards against a hang, not speed requirements (issue #13 item 4): on a loaded machine (seen: a
    // load average of 20 on 2 cores, Chromium taking minutes to launch) a healthy real-socket test
    // took over 30 s. A passing test ends as soon as it is done; only a hanging one waits this long.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // Two cores: two files at a time keeps real-socket tests from starving each other.
    maxWorkers: 2,
    // Issue #13 item 4: expect.poll waits for an event (a page showing what the API did); its
    // default of 1 s is a guess at the machine's speed that a CPU-bound neighbour breaks. A poll
    // still ends as soon as it holds; only a failing one waits this long.
    expect: { poll: { timeout: 15_000 } },
  },
});
