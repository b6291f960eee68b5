import { type ChildProcess, spawn } from 'node:child_process';

/**
 * A small sh wrapper that runs `"$@"` (the server) and holds a pipe to this process. When the pipe
 * closes (stop(), or this process ending in any way, SIGKILL included) the wrapper sends the server
 * `signal`. Without it a vitest worker killed on a timeout would leave the server running. The
 * wrapper prints the server's pid first and exits with its status. Used by spawnWatched and by
 * test/helpers/influxd.ts (which also tracks the pid and restarts).
 */
export const watchdogScript = (signal: 'TERM' | 'INT') =>
  [
    'exec 3<&0',
    '"$@" </dev/null 3<&- &',
    'pid=$!',
    'echo "$pid"',
    `( read -r _ <&3; kill -${signal} "$pid" 2>/dev/null ) >/dev/null 2>&1 &`,
    'exec 3<&-',
    'wait "$pid"',
  ].join('\n');

/** Sends `signal` to `pid`; a process already gone is not an error. */
export function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Server pids this process started and tracks itself (influxd, cluster nodes): see killOnExit. */
const killedOnExit = new Set<number>();
let exitHookInstalled = false;

/**
 * Kills `pid` outright when this process exits normally (the watchdog wrapper would only signal it
 * when our pipe closes, and a server slow to stop must not outlive the run); the returned function
 * stops tracking it (it exited, or was stopped).
 */
export function killOnExit(pid: number): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const p of killedOnExit) killQuietly(p, 'SIGKILL');
    });
  }
  killedOnExit.add(pid);
  return () => killedOnExit.delete(pid);
}

const STDERR_KEEP_CHARS = 8_000;
const STOP_GRACE_MS = 5_000;

export interface WatchedServer {
  /** Why it ended (`code …, signal …`), or null while it runs. */
  exitInfo(): string | null;
  /** The last few KB of its stderr and stdout, for error messages. */
  output(): string;
  /** Closes the pipe (the wrapper signals the server), waits for exit; SIGKILL after 5 s. */
  stop(): Promise<void>;
}

export function spawnWatched(command: string[], signal: 'TERM' | 'INT' = 'TERM'): WatchedServer {
  let output = '';
  let exitInfo: string | null = null;
  const proc: ChildProcess = spawn('/bin/sh', ['-c', watchdogScript(signal), 'watchdog', ...command], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const keep = (chunk: string) => {
    output = (output + chunk).slice(-STDERR_KEEP_CHARS);
  };
  proc.stdout?.setEncoding('utf8');
  proc.stderr?.setEncoding('utf8');
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    proc.once('exit', (code, sig) => {
      exitInfo = `code ${code}, signal ${sig}`;
      proc.stdin?.destroy();
      resolve();
    });
    proc.once('error', (err) => {
      exitInfo = `spawn error: ${err.message}`;
      resolve();
    });
  });
  return {
    exitInfo: () => exitInfo,
    output: () => output,
    async stop() {
      if (exitInfo !== null) return;
      proc.stdin?.end();
      const killTimer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(killTimer);
    },
  };
}

/** Polls `ready` every 50 ms until it resolves true; throws when the server exits or time is up. */
export async function waitUntilReady(
  name: string,
  server: WatchedServer,
  ready: () => Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const exit = server.exitInfo();
    if (exit) throw new Error(`${name} exited during start-up (${exit}); output:\n${server.output()}`);
    if (await ready()) return;
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`${name} was not ready within ${timeoutMs} ms; output:\n${server.output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
