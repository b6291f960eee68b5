/**
 * One registry of stable error codes (house style: `WW_ERR_<AREA>_<WHAT>`).
 * API errors leave the service as `{error: code, message}`; the HTTP status lives here so
 * routes never pick numbers by hand.
 */
export const ERROR_CODES = {
  WW_ERR_CONFIG_INVALID: 500,
  WW_ERR_API_BAD_REQUEST: 400,
  WW_ERR_API_UNAUTHORIZED: 401,
  WW_ERR_API_FORBIDDEN: 403,
  WW_ERR_API_NOT_FOUND: 404,
  WW_ERR_API_CONFLICT: 409,
  WW_ERR_API_PAYLOAD_TOO_LARGE: 413,
  WW_ERR_API_UNSUPPORTED_MEDIA: 415,
  WW_ERR_API_TOO_MANY_REQUESTS: 429,
  WW_ERR_API_INTERNAL: 500,
  WW_ERR_STORAGE_INFLUX_DOWN: 503,
  WW_ERR_STORAGE_QUERY: 502,
  /** A notification channel refused or did not answer (never an API answer; logged and retried). */
  WW_ERR_NOTIFY_DELIVERY: 502,
  /** Issue #14: a core node wrote for a partition its lock session does not hold (fenced off). */
  WW_ERR_CLUSTER_NOT_OWNER: 409,
  /** Issue #14 (corestate): a core node used up its reserved alert/incident ids before a refill came back. */
  WW_ERR_CLUSTER_IDS_EXHAUSTED: 503,
  /** Issue #14 (corepg): an alert or incident action found no live owner of its partition to run it. */
  WW_ERR_CLUSTER_OWNER_UNAVAILABLE: 503,
  /** Issue #14 (corechecks): a device command the node holding its session did not take. */
  WW_ERR_DEVICE_COMMAND_UNDELIVERED: 503,
  /** Issue #14 (feedhealth): the shared database (PostgreSQL, cluster mode) cannot be reached now. */
  WW_ERR_STORAGE_DATABASE_DOWN: 503,
  /**
   * Issue #14 (migrate): `npm run cluster:migrate` refused to move a one-process install (wrong
   * SQLite schema version, a writer still running, a non-empty target). Never an API answer.
   */
  WW_ERR_CLUSTER_MOVE_REFUSED: 409,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class WwError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WwError';
    this.code = code;
    this.statusCode = ERROR_CODES[code];
  }
}

export class ConfigError extends WwError {
  readonly problems: string[];
  constructor(problems: string[]) {
    super('WW_ERR_CONFIG_INVALID', `invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export const badRequest = (message: string) => new WwError('WW_ERR_API_BAD_REQUEST', message);
export const notFound = (message: string) => new WwError('WW_ERR_API_NOT_FOUND', message);
export const forbidden = (message: string) => new WwError('WW_ERR_API_FORBIDDEN', message);
export const conflict = (message: string) => new WwError('WW_ERR_API_CONFLICT', message);
export const unauthorized = (message: string) => new WwError('WW_ERR_API_UNAUTHORIZED', message);
