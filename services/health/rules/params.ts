import type { RulesConfig } from '../../core/config.ts';
import type { AlertType } from '../types.ts';
import type { RuleParams } from './types.ts';

/**
 * Rule types with settings under `rules.<type>` (overridable per device by tags): every alert type
 * but the two liveness ones, so the list of alert types lives in one place (health/types.ts).
 */
export type RuleType = Exclude<AlertType, 'device_offline' | 'device_flapping' | 'storage_backlog_overflow'>;

const SEVERITIES = new Set(['critical', 'major', 'minor', 'warning']);

/**
 * `rules.<type>` with the device's tag overrides `rule.<type>.<setting>=<value>` applied. Only
 * settings that exist in the config are taken, with the same type (a number stays a number);
 * a malformed value is ignored (and reported by `badTags`), never fatal.
 */
export function resolveParams(
  rules: RulesConfig,
  type: RuleType,
  tags: Readonly<Record<string, string>>,
): RuleParams {
  const base = rules[type] as Record<string, number | boolean | string>;
  const prefix = `rule.${type}.`;
  let out: Record<string, number | boolean | string> | null = null;
  for (const [k, raw] of Object.entries(tags)) {
    if (!k.startsWith(prefix)) continue;
    const v = parseOverride(base, k.slice(prefix.length), raw);
    if (v === undefined) continue;
    out ??= { ...base };
    out[k.slice(prefix.length)] = v;
  }
  return out ?? base;
}

function parseOverride(
  base: Record<string, number | boolean | string>,
  key: string,
  raw: string,
): number | boolean | string | undefined {
  const current = base[key];
  const text = raw.trim();
  if (typeof current === 'number') {
    const n = /^[+-]?(\d+\.?\d*|\.\d+)$/.test(text) ? Number(text) : Number.NaN;
    return Number.isFinite(n) && n >= 0 ? n : undefined;
  }
  if (typeof current === 'boolean') return text === 'true' ? true : text === 'false' ? false : undefined;
  if (key === 'severity') return SEVERITIES.has(text) ? text : undefined;
  return undefined;
}

/** Tags `rule.…` that name no rule or setting, or carry a bad value (for the API to refuse). */
export function badRuleTags(rules: RulesConfig, tags: Readonly<Record<string, string>>): string | null {
  for (const [k, raw] of Object.entries(tags)) {
    if (!k.startsWith('rule.')) continue;
    const [, type, setting, ...rest] = k.split('.');
    const base = type ? (rules as unknown as Record<string, unknown>)[type] : undefined;
    if (
      rest.length > 0 ||
      !setting ||
      typeof base !== 'object' ||
      base === null ||
      !(setting in base) ||
      parseOverride(base as Record<string, number | boolean | string>, setting, raw) === undefined
    ) {
      return `tags.${k}: not a rule setting (rule.<type>.<setting>, e.g. rule.lamp_failure.minPowerW=20) or a bad value '${raw}'`;
    }
  }
  return null;
}
