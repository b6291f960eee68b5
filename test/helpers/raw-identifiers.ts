/**
 * Raw identifiers in text a user reads (issue #12): a snake_case word (`camera_storage_high`,
 * `_service`) or a camelCase word (`powerW`, `heartbeatIntervalS`). Units written in mixed case
 * (`kWh`, `dBm`) are words, not identifiers. Vietnamese letters outside ASCII split words, so
 * "Trạm" is never taken for anything.
 */
const UNITS = new Set(['kWh', 'dBm']);
const SNAKE = /^_*[A-Za-z0-9]+(_+[A-Za-z0-9]*)+$|^_[A-Za-z0-9]+$/;
const CAMEL = /^[a-z][a-z0-9]*[A-Z]/;

export function rawIdentifiers(text: string): string[] {
  const words = text.match(/[A-Za-z0-9_]+/g) ?? [];
  return [...new Set(words.filter((w) => !UNITS.has(w) && (SNAKE.test(w) || CAMEL.test(w))))];
}
