import type { User } from './types.ts';

/** The API client: bearer token from the login, kept in localStorage; a 401 logs out. */
const TOKEN_KEY = 'ww.token';
const USER_KEY = 'ww.user';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const session = {
  token: (): string | null => localStorage.getItem(TOKEN_KEY),
  user(): User | null {
    const raw = localStorage.getItem(USER_KEY);
    return raw ? (JSON.parse(raw) as User) : null;
  },
  set(token: string, user: User) {
    localStorage.setItem(TOKEN_KEY, token);
    localStorage.setItem(USER_KEY, JSON.stringify(user));
  },
  clear() {
    localStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(USER_KEY);
  },
};

let onUnauthorized: () => void = () => {};
export const setUnauthorizedHandler = (fn: () => void) => {
  onUnauthorized = fn;
};

export async function apiRaw(
  method: string,
  path: string,
  body?: unknown,
  contentType?: string,
): Promise<Response> {
  const headers: Record<string, string> = {};
  const token = session.token();
  if (token) headers.authorization = `Bearer ${token}`;
  let payload: string | undefined;
  if (body !== undefined) {
    payload = typeof body === 'string' ? body : JSON.stringify(body);
    headers['content-type'] = contentType ?? 'application/json';
  }
  const res = await fetch(path, { method, headers, body: payload });
  if (res.status === 401 && !path.endsWith('/auth/login')) {
    session.clear();
    onUnauthorized();
  }
  if (!res.ok) {
    let code = 'HTTP';
    let message = res.statusText;
    try {
      const e = (await res.json()) as { error?: string; message?: string };
      code = e.error ?? code;
      message = e.message ?? message;
    } catch {
      // not JSON
    }
    throw new ApiError(res.status, code, message);
  }
  return res;
}

export async function api<T>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
  const res = await apiRaw(method, path, body, contentType);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export async function login(username: string, password: string): Promise<User> {
  const r = await api<{ token: string; user: User }>('POST', '/api/v1/auth/login', { username, password });
  session.set(r.token, r.user);
  return r.user;
}

/**
 * Ends the session on the server, then here (issue #12): forgetting the token in this browser alone
 * would leave it valid for anyone who copied it (a shared phone, a proxy log). Best effort: offline,
 * or with the token already dead, the local sign-out still happens.
 */
export async function logout(): Promise<void> {
  const token = session.token();
  if (token) {
    await fetch('/api/v1/auth/logout', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    }).catch(() => undefined);
  }
  session.clear();
}

/** Every page of a cursor-paginated list. */
export async function fetchAll<T>(path: string): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page: { items: T[]; nextCursor: string | null } = await api(
      'GET',
      `${path}${sep}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}
