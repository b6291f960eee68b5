import type { RuleInput } from '../health/rules/types.ts';

/**
 * The compact form in which an edge node hands an accepted message to the core node that owns the
 * device's partition (issue #14): exactly what ingest gives liveness (`signOfLife`,
 * `statusOffline`) and the fault rules (`observe`), one entry per call, in a Redis Stream per
 * partition. Field names are one letter: a city sends tens of thousands of these a second.
 *
 *   d  device id       a  receivedAt (epoch ms)       e  edge node id
 *   k  'l' sign of life | 'o' status offline | 'r' rule input (then i = the input as JSON)
 *   s  the device's seq when it sent one (optional)
 */
export type FeedInput =
  | { type: 'life' }
  | { type: 'offline' }
  | { type: 'rule'; input: Exclude<RuleInput, { type: 'tick' }> };

export interface FeedEntry {
  deviceId: string;
  at: number;
  edge: string;
  input: FeedInput;
  seq?: number;
}

export function encodeFeedEntry(e: FeedEntry): Record<string, string> {
  const fields: Record<string, string> = { d: e.deviceId, a: String(e.at), e: e.edge };
  if (e.input.type === 'life') fields.k = 'l';
  else if (e.input.type === 'offline') fields.k = 'o';
  else {
    fields.k = 'r';
    fields.i = JSON.stringify(e.input.input);
  }
  if (e.seq !== undefined) fields.s = String(e.seq);
  return fields;
}

const RULE_TYPES = new Set(['telemetry', 'heartbeat', 'event']);

/**
 * The entry, or why it is not one. Total: a stream anyone with Redis access can write to must not
 * crash a core node; a bad entry is skipped and counted by the reader.
 */
export function decodeFeedEntry(fields: Readonly<Record<string, string>>): FeedEntry | { error: string } {
  const { d, a, e, k, i, s } = fields;
  if (!d) return { error: 'missing device id (d)' };
  if (!e) return { error: 'missing edge node id (e)' };
  const at = Number(a);
  if (!Number.isSafeInteger(at) || at < 0) return { error: `bad receivedAt (a): ${a}` };
  let seq: number | undefined;
  if (s !== undefined) {
    seq = Number(s);
    if (!Number.isSafeInteger(seq)) return { error: `bad seq (s): ${s}` };
  }
  let input: FeedInput;
  if (k === 'l') input = { type: 'life' };
  else if (k === 'o') input = { type: 'offline' };
  else if (k === 'r') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(i ?? '');
    } catch {
      return { error: 'rule input (i) is not JSON' };
    }
    const p = parsed as { type?: unknown; at?: unknown } | null;
    if (typeof p !== 'object' || p === null || typeof p.type !== 'string' || !RULE_TYPES.has(p.type)) {
      return { error: 'rule input (i) has no known type' };
    }
    if (typeof p.at !== 'number') return { error: 'rule input (i) has no at' };
    input = { type: 'rule', input: parsed as Exclude<RuleInput, { type: 'tick' }> };
  } else return { error: `unknown kind (k): ${k}` };
  return seq === undefined ? { deviceId: d, at, edge: e, input } : { deviceId: d, at, edge: e, input, seq };
}

/** The Redis Stream of one partition. */
export const feedStreamKey = (partition: number): string => `ww:feed:${partition}`;
