import type { RootCauseService } from '../health/root-cause-service.ts';
import { decodeRootCauseState, encodeRootCauseState } from '../health/root-cause-snapshot.ts';
import { RULE_TYPES } from '../health/rules/index.ts';
import type { RuleEngine } from '../health/rules/rule-engine.ts';
import { decodeRuleState, encodeRuleState } from '../health/rules/rule-snapshot.ts';

/** What a core node needs of the rule engine (issue #14): its feed and its partition state. */
export type CoreRules = Pick<RuleEngine, 'observe' | 'adopt' | 'forget' | 'snapshot' | 'resume'>;
/** What a core node needs of root cause (issue #14): its partition state. */
export type CoreRootCause = Pick<RootCauseService, 'adopt' | 'forget' | 'snapshot'>;

/** The rules' and root cause's parts of a partition's checkpoint (beside liveness's, core-state.ts). */
export interface PartitionPartsState {
  rules: unknown;
  rootCause: unknown;
}

/**
 * The rule engine's and root cause's side of taking, saving and giving up a partition (issue #14,
 * core-node.ts), next to liveness's: their state goes into the partition's checkpoint, is restored
 * when the partition is taken (after liveness's adopt: root cause reads the restored states) and
 * dropped, timers with it, when it is released or lost. Kept apart from core-node.ts's own
 * adoption so other parts (the decision state's load) add theirs beside it.
 */
export interface PartitionParts {
  adopt(
    deviceIds: readonly string[],
    saved: Partial<PartitionPartsState>,
    onBad: (reason: string) => void,
  ): void;
  snapshot(deviceIds: readonly string[]): PartitionPartsState;
  forget(deviceIds: readonly string[]): void;
  /** The partition's feed is healthy again (core-node.ts `resume`): the rules' missed ticks. */
  resume(deviceIds: readonly string[], graceFrom: number | null): void;
}

export function createPartitionParts(rules: CoreRules, rootCause: CoreRootCause | null): PartitionParts {
  return {
    adopt(deviceIds, saved, onBad) {
      rules.adopt(
        deviceIds,
        decodeRuleState(saved.rules, (t) => RULE_TYPES.has(t), onBad),
      );
      rootCause?.adopt(deviceIds, decodeRootCauseState(saved.rootCause, onBad));
    },
    snapshot(deviceIds) {
      // Encoded at once (copies): the checkpoint is the state at this instant, with its feed position.
      return {
        rules: encodeRuleState(rules.snapshot(deviceIds)),
        rootCause: encodeRootCauseState(rootCause?.snapshot(deviceIds) ?? []),
      };
    },
    forget(deviceIds) {
      rules.forget(deviceIds);
      rootCause?.forget(deviceIds);
    },
    resume(deviceIds, graceFrom) {
      rules.resume(deviceIds, graceFrom);
    },
  };
}
