import type { Clock, TimerHandle } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';

/**
 * Why a long-lived session (an SSE stream) has to end (issue #13): its token was logged out,
 * revoked (password change, user disabled), expired, or its user's role or wards changed (the
 * stream was filtered by the old ones; the client reconnects and is filtered by the new ones).
 * Issue #12: revocations say which (`password_changed`, `disabled`) so the web app can tell the
 * person why they were signed out; `revoked` is any other revocation.
 */
export type SessionEndReason =
  | 'logout'
  | 'revoked'
  | 'expired'
  | 'user_changed'
  | 'password_changed'
  | 'disabled';

/**
 * setTimeout holds at most 2^31-1 ms (~24.8 days); a token may live 30 days. A longer wait is
 * taken in steps.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Watcher {
  tokenHash: string;
  username: string;
  expiresAt: number;
  onEnd: (reason: SessionEndReason) => void;
  timer: TimerHandle | null;
}

/**
 * The registry of open sessions, by token hash and by user, so that revoking a token or changing
 * a user ends what is open at once, and each one ends at its token's `expiresAt` (one timer each,
 * from the injected clock). Every request re-checks its token anyway; this is for connections
 * that outlive the request that checked it.
 */
export class SessionWatchers {
  private readonly byToken = new Map<string, Set<Watcher>>();
  private readonly byUser = new Map<string, Set<Watcher>>();

  constructor(private readonly deps: { clock: Clock; log: Logger }) {}

  /** Calls `onEnd` once when the session must end; the returned function stops watching. */
  watch(
    tokenHash: string,
    username: string,
    expiresAt: number,
    onEnd: (reason: SessionEndReason) => void,
  ): () => void {
    const w: Watcher = { tokenHash, username, expiresAt, onEnd, timer: null };
    add(this.byToken, tokenHash, w);
    add(this.byUser, username, w);
    this.arm(w);
    return () => this.forget(w);
  }

  /** Ends every session of one token (logout). */
  endToken(tokenHash: string, reason: SessionEndReason): void {
    for (const w of [...(this.byToken.get(tokenHash) ?? [])]) this.end(w, reason);
  }

  /** Ends every session of one user (revocation, role or ward change). */
  endUser(username: string, reason: SessionEndReason): void {
    for (const w of [...(this.byUser.get(username) ?? [])]) this.end(w, reason);
  }

  /** The token hashes of a user's open sessions (issue #14: re-checked when another node changed the user). */
  tokensOf(username: string): string[] {
    return [...new Set([...(this.byUser.get(username) ?? [])].map((w) => w.tokenHash))];
  }

  /** Open sessions being watched. */
  get size(): number {
    let n = 0;
    for (const set of this.byToken.values()) n += set.size;
    return n;
  }

  private arm(w: Watcher): void {
    const waitMs = w.expiresAt - this.deps.clock.now();
    if (waitMs <= 0) {
      this.end(w, 'expired');
      return;
    }
    w.timer = this.deps.clock.setTimeout(
      () => {
        w.timer = null;
        this.arm(w);
      },
      Math.min(waitMs, MAX_TIMER_MS),
    );
  }

  private end(w: Watcher, reason: SessionEndReason): void {
    if (!this.forget(w)) return;
    try {
      w.onEnd(reason);
    } catch (err) {
      this.deps.log.error({ err, username: w.username, reason }, 'ending a session failed');
    }
  }

  /** False when it was not watched any more (ended or forgotten before). */
  private forget(w: Watcher): boolean {
    if (w.timer !== null) this.deps.clock.clearTimeout(w.timer);
    w.timer = null;
    const known = remove(this.byToken, w.tokenHash, w);
    remove(this.byUser, w.username, w);
    return known;
  }
}

function add(map: Map<string, Set<Watcher>>, key: string, w: Watcher): void {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  set.add(w);
}

function remove(map: Map<string, Set<Watcher>>, key: string, w: Watcher): boolean {
  const set = map.get(key);
  if (!set?.delete(w)) return false;
  if (set.size === 0) map.delete(key);
  return true;
}
