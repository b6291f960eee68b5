import { resolve } from 'node:path';
import { type LevelWithSilent, pino } from 'pino';
import { modelClock, parseCliArgs, type SimulatorOptions, USAGE } from './cli-args.ts';
import { createControlServer } from './control-server.ts';
import { extraStockDevices } from './extra-devices.ts';
import { createFleet, type Fleet } from './fleet.ts';
import { provisionFleet, waitForService } from './provision.ts';
import { loadWard } from './ward.ts';

/**
 * The simulator's entry point: provision the ward's devices through the API, connect each as
 * its own MQTT client, serve the fault-injection control API, and stop cleanly on SIGINT/SIGTERM.
 */

const SUMMARY_INTERVAL_MS = 60_000;

/** Resolves to an exit code, or null while the simulator runs (it then ends on a signal). */
async function main(): Promise<number | null> {
  const parsed = parseCliArgs(process.argv.slice(2), process.env);
  if (!parsed.ok) {
    if (parsed.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    process.stderr.write(`${parsed.problems.map((p) => `error: ${p}`).join('\n')}\n\n${USAGE}`);
    return 2;
  }
  const options = parsed.options;
  const log = pino({
    level: options.logLevel as LevelWithSilent,
    base: { service: 'wardwatch-sim' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });

  let fleet: Fleet | null = null;
  let stopping = false;
  const timers: NodeJS.Timeout[] = [];
  let control: ReturnType<typeof createControlServer> | null = null;

  const shutdown = async (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'stopping: every device disconnects cleanly (no last will)');
    for (const t of timers) clearTimeout(t);
    await control?.stop();
    await fleet?.stop();
    log.info('simulator stopped');
    process.exit(0);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      void shutdown(signal);
    });
  }

  const ward = loadWard(resolve(options.ward));
  const devices = [
    ...(options.count === null ? ward.devices : ward.devices.slice(0, options.count)),
    ...extraStockDevices(ward, options.tasmota, options.frigateCameras),
  ];
  log.info(
    { ward: ward.ward.id, devices: devices.length, api: options.apiUrl, mqtt: options.mqttUrl },
    'starting',
  );

  await waitForService(options.apiUrl, options.waitMs);
  if (stopping) return 0;
  const provisioned = await provisionFleet({
    apiUrl: options.apiUrl,
    username: options.adminUser,
    password: options.adminPassword,
    devices,
    log,
  });
  if (provisioned.secrets.size === 0) {
    log.error('no device could be provisioned; nothing to simulate');
    return 1;
  }
  if (stopping) return 0;

  fleet = createFleet({
    devices,
    secrets: provisioned.secrets,
    mqttUrl: options.mqttUrl,
    log,
    modelNow: modelClock(options.speed, options.startAtMs),
    ...(options.telemetryIntervalS !== null ? { telemetryIntervalS: options.telemetryIntervalS } : {}),
  });
  fleet.start();

  if (options.controlPort !== null) {
    control = createControlServer({ fleet, host: options.controlHost, port: options.controlPort, log });
    const address = await control.start();
    printUsage(options, address.port, fleet.size);
  }

  for (const fault of options.faults) {
    const f = fleet;
    timers.push(
      setTimeout(() => {
        const r = f.inject(fault);
        if (!r.ok)
          log.warn(
            { fault: fault.type, target: fault.target, reason: r.message },
            'scheduled fault not applied',
          );
      }, fault.delayMs),
    );
    log.info({ fault: fault.type, target: fault.target, inS: fault.delayMs / 1000 }, 'fault scheduled');
  }

  const summary = setInterval(() => {
    const counts: Record<string, number> = {};
    let published = 0;
    for (const d of fleet?.snapshot() ?? []) {
      counts[d.state] = (counts[d.state] ?? 0) + 1;
      published += d.published;
    }
    log.info({ ...counts, published }, 'fleet');
  }, SUMMARY_INTERVAL_MS);
  summary.unref();
  timers.push(summary);
  return null;
}

function printUsage(options: SimulatorOptions, port: number, size: number): void {
  const base = `http://${options.controlHost === '0.0.0.0' ? '127.0.0.1' : options.controlHost}:${port}`;
  process.stdout.write(`
Simulating ${size} devices → ${options.mqttUrl}  (Ctrl-C stops them cleanly)
Fault control API on ${base}:
  curl -s ${base}/devices
  curl -s -XPOST ${base}/faults -H 'content-type: application/json' -d '{"type":"disconnect","target":"bn-cam-003"}'
  curl -s -XPOST ${base}/faults -H 'content-type: application/json' -d '{"type":"power_cut","target":"tram-bn-3"}'
  curl -s -XPOST ${base}/faults -H 'content-type: application/json' -d '{"type":"restore","target":"all"}'
  types: silence disconnect power_cut lamp_failure not_recording bad_payload restore …
  stock firmware (Tasmota, Frigate NVR and its cameras): silence disconnect power_cut restore
  targets: device id | powerZone | id,id,… | random | all

`);
}

main().then(
  (code) => {
    if (code !== null) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`simulator: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
