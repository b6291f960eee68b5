/**
 * Reconnect delay with exponential backoff and full jitter: uniform in [min, min(cap, base·2^n)].
 * Without jitter every device would reconnect in the same millisecond after a service restart.
 */
export function reconnectDelayMs(
  attempt: number,
  random: () => number,
  opts: { baseMs?: number; capMs?: number; minMs?: number } = {},
): number {
  const { baseMs = 1000, capMs = 30_000, minMs = 250 } = opts;
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.round(minMs + random() * Math.max(0, ceiling - minMs));
}
