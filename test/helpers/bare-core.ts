import {
  type ClusterCore,
  type CoreLiveness,
  type CorePartitionState,
  createClusterCore,
} from '../../services/cluster/core-node.ts';
import type { PartitionedDevice } from '../../services/cluster/partition.ts';
import { EventBus } from '../../services/core/bus.ts';
import { loadConfig } from '../../services/core/config.ts';
import type { WardwatchEvents } from '../../services/core/events.ts';
import { createLogger } from '../../services/core/logger.ts';
import { testClusterConfig } from './cluster-config.ts';
import { idleCoreRules } from './core-rules.ts';

/** The one device of a bare core's default registry (a camera in ward `w`, no zone, no parent). */
export const BARE_CORE_DEVICE: PartitionedDevice = {
  id: 'cam-1',
  ward: 'w',
  powerZone: null,
  parentId: null,
};

/** A core node's liveness for tests that look at the core itself: keeps nothing, answers nothing. */
export function idleCoreLiveness(): CoreLiveness {
  return {
    signOfLife: () => undefined,
    statusOffline: () => undefined,
    adopt: () => undefined,
    forget: () => undefined,
    snapshot: () => [],
    resume: () => undefined,
  };
}

/**
 * A started core node alone (createClusterCore, issue #14), without the rest of a wardwatch: role
 * `core`, a fixed device list, idle rules, and liveness stand-ins the test replaces where it records
 * something (`liveness`). Its ownership rounds and health checks run only when the test calls them
 * (testClusterConfig's beat is far beyond any test), and a short XREAD block keeps its stop quick.
 * Used by the core-node tests and bench/takeover.ts; the caller stops it.
 */
export async function bareCore(opts: {
  redisUrl: string;
  postgresUrl: string;
  nodeId: string;
  /** Default 1: the one partition owns every device. */
  partitions?: number;
  /** Default: BARE_CORE_DEVICE alone. */
  devices?: readonly PartitionedDevice[];
  liveness?: Partial<CoreLiveness>;
  /** The decision state moved with a partition; absent, none (as on SQLite). */
  state?: CorePartitionState;
  /**
   * How long an idle XREAD blocks: 100 ms when left out (a stop is quick); given as `undefined`,
   * the service's own default (a bench timing the node as it runs).
   */
  readBlockMs?: number;
}): Promise<ClusterCore> {
  const log = createLogger('silent');
  const devices = opts.devices ?? [BARE_CORE_DEVICE];
  const byId = new Map(devices.map((d) => [d.id, d]));
  const config = loadConfig({
    env: {},
    overrides: {
      cluster: testClusterConfig({
        redisUrl: opts.redisUrl,
        postgresUrl: opts.postgresUrl,
        partitions: opts.partitions ?? 1,
        nodeId: opts.nodeId,
        roles: ['core'],
      }),
    },
  });
  const core = createClusterCore({
    config,
    devices: { get: (id) => byId.get(id) ?? null, list: () => devices },
    bus: new EventBus<WardwatchEvents>(log),
    log,
    readBlockMs: 'readBlockMs' in opts ? opts.readBlockMs : 100,
    state: opts.state,
  });
  core.bind({ liveness: { ...idleCoreLiveness(), ...opts.liveness }, rules: idleCoreRules() });
  try {
    await core.start();
  } catch (err) {
    await core.stop().catch(() => undefined); // the test never got it to stop
    throw err;
  }
  return core;
}
