import type { CoreRules } from '../../services/cluster/partition-parts.ts';

/** A core node's rules for tests that judge liveness only: observes nothing, keeps no state. */
export function idleCoreRules(): CoreRules {
  return {
    observe: () => undefined,
    adopt: () => undefined,
    forget: () => undefined,
    snapshot: () => [],
    resume: () => undefined,
  };
}
