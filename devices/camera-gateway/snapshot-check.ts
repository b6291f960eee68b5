import { createHash } from 'node:crypto';

/**
 * Snapshot checks (issue #5), pure. A camera that answers but whose picture never changes is
 * broken (frozen encoder, stuck sensor): the last K snapshots byte-identical is a fault.
 */

/** A JPEG starts with SOI + a marker (FF D8 FF) and ends with EOI (FF D9). */
export function isJpeg(bytes: Buffer): boolean {
  return (
    bytes.length >= 128 &&
    bytes[0] === 0xff &&
    bytes[1] === 0xd8 &&
    bytes[2] === 0xff &&
    bytes[bytes.length - 2] === 0xff &&
    bytes[bytes.length - 1] === 0xd9
  );
}

export const snapshotHash = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/**
 * Keeps the last `k` snapshot hashes; `frozen` when there are `k` and all are identical
 * (k ≥ 2: one snapshot cannot be frozen).
 */
export function trackSnapshot(
  history: readonly string[],
  hash: string,
  k: number,
): { history: string[]; frozen: boolean } {
  const next = [...history, hash].slice(-Math.max(2, k));
  return { history: next, frozen: next.length >= Math.max(2, k) && next.every((h) => h === hash) };
}
