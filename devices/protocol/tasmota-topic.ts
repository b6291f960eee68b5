/**
 * Tasmota's FullTopic (issue #13, https://tasmota.github.io/docs/MQTT/#customize-topic): real
 * installations change it (`MyHome/Bathroom/%prefix%/%topic%/`, `%topic%/%prefix%/`), and a relay
 * whose topics we could not place was refused by the broker on every publish. Supported: any
 * FullTopic with `%prefix%` and `%topic%` each exactly once as a whole level, the other levels
 * literal names; Tasmota appends the command (`STATE`, `POWER2`…) as the last level. Not
 * supported: `%hostname%`, `%id%` and tokens inside a level (`home_%topic%`). Pure.
 */

export const DEFAULT_TASMOTA_FULL_TOPIC = '%prefix%/%topic%/';
/** The device tag that holds a Tasmota device's FullTopic (default DEFAULT_TASMOTA_FULL_TOPIC). */
export const FULL_TOPIC_TAG = 'fullTopic';
/** The device tag that chooses the relay watched on a multi-relay Tasmota device (`1`…`8`). */
export const TASMOTA_RELAY_TAG = 'tasmotaRelay';

const PREFIX = '%prefix%';
const TOPIC = '%topic%';
/** A literal level: what Tasmota's own topic rules allow, no wildcard, not `$…`. */
const LITERAL_LEVEL_RE = /^[A-Za-z0-9_.:-]{1,64}$/;
/** With the command level, at most 7 levels: inside the broker's default maxTopicLevels (8). */
const MAX_FULL_TOPIC_LEVELS = 6;

/** The levels of a FullTopic (Tasmota adds the trailing `/` when it is missing). */
const levelsOf = (fullTopic: string): string[] =>
  (fullTopic.endsWith('/') ? fullTopic.slice(0, -1) : fullTopic).split('/');

/** A reason when `fullTopic` is not a FullTopic wardwatch can follow, else null. */
export function fullTopicProblem(fullTopic: string): string | null {
  const levels = levelsOf(fullTopic);
  const where = `tags.${FULL_TOPIC_TAG}`;
  if (levels.length > MAX_FULL_TOPIC_LEVELS)
    return `${where}: at most ${MAX_FULL_TOPIC_LEVELS} levels, got '${fullTopic}'`;
  if (levels.filter((l) => l === PREFIX).length !== 1 || levels.filter((l) => l === TOPIC).length !== 1)
    return `${where}: must contain ${PREFIX} and ${TOPIC} once each, as whole levels (e.g. ${DEFAULT_TASMOTA_FULL_TOPIC}), got '${fullTopic}'`;
  const bad = levels.find((l) => l !== PREFIX && l !== TOPIC && !LITERAL_LEVEL_RE.test(l));
  if (bad !== undefined)
    return `${where}: level '${bad}' is not supported (only ${PREFIX}, ${TOPIC} and names of A-Z a-z 0-9 _ . : -)`;
  return null;
}

/** The MQTT topic Tasmota uses for `prefix` (tele, stat, cmnd) and `command` (empty: the subtree, ending in `/`). */
export function tasmotaTopic(fullTopic: string, prefix: string, topic: string, command: string): string {
  const levels = levelsOf(fullTopic).map((l) => (l === PREFIX ? prefix : l === TOPIC ? topic : l));
  return `${levels.join('/')}/${command}`;
}

/** Which prefix and command an MQTT topic is, under this device's FullTopic and %topic%; null: not its topic. */
export function matchTasmotaTopic(
  fullTopic: string,
  topic: string,
  mqttTopic: string,
): { prefix: string; command: string } | null {
  const levels = levelsOf(fullTopic);
  const parts = mqttTopic.split('/');
  if (parts.length !== levels.length + 1) return null;
  let prefix = '';
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i];
    const part = parts[i] as string;
    if (level === PREFIX) prefix = part;
    else if (part !== (level === TOPIC ? topic : level)) return null;
  }
  const command = parts[levels.length] as string;
  return prefix === '' || command === '' ? null : { prefix, command };
}

/** A reason when a relay tag is not `1`…`8`, else null. */
export function relayTagProblem(relay: string): string | null {
  return /^[1-8]$/.test(relay)
    ? null
    : `tags.${TASMOTA_RELAY_TAG}: expected a relay number 1 to 8 (POWER1…POWER8), got '${relay}'`;
}
