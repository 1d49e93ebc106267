// The HTTP API, as the signed-in person. The session lives in an HttpOnly cookie set by
// POST /api/auth/login; every write echoes the CSRF cookie in X-CSRF-Token.

const listeners = { signedOut: [] };
export const session = { me: null };
const rank = { viewer: 0, approver: 1, admin: 2 };

/** Whether the signed-in person has at least `role`. */
export const may = (role) => session.me != null && rank[session.me.role] >= rank[role];

export function onSignedOut(f) {
  listeners.signedOut.push(f);
}

const csrf = () => (document.cookie.split("; ").find((c) => c.startsWith("overseer_csrf=")) || "").slice(14);

/** An API error: the contract's {error, detail} and the HTTP status. */
export class ApiError extends Error {
  constructor(status, body) {
    super(`${body?.detail || body?.error || "request failed"} (${status})`);
    this.status = status;
    this.body = body;
  }
}

/** Calls the API; answers the JSON body or throws an ApiError. */
export async function call(method, path, body) {
  const headers = { "x-csrf-token": csrf() };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    method, credentials: "same-origin", headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (response.status === 401 && path !== "/api/auth/login") {
    session.me = null;
    listeners.signedOut.forEach((f) => f());
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const get = (path) => call("GET", path);

/** A query string of the set fields of `params`. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const text = q.toString();
  return text ? `?${text}` : "";
}

/** Every page of a cursor listing (up to `max` items). */
export async function allPages(path, params, max = 5000) {
  const items = [];
  let cursor = null;
  do {
    const page = await get(path + query({ ...params, cursor, limit: 500 }));
    items.push(...page.decisions);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

export async function signIn(token) {
  await call("POST", "/api/auth/login", { token });
  return whoAmI();
}

export async function whoAmI() {
  session.me = await get("/api/auth/session");
  return session.me;
}

export async function signOut() {
  await call("POST", "/api/auth/logout").catch(() => {});
  session.me = null;
  listeners.signedOut.forEach((f) => f());
}

/** Decides one decision; `edited` only with an approval. */
export function decide(decision, verdict, feedback, edited) {
  const body = { feedback: feedback || null, payload_hash: decision.payload_hash };
  if (edited !== undefined) body.edited = edited;
  return call("POST", `/api/brain/hitl/decisions/${encodeURIComponent(decision.decision_id)}/${verdict}`, body);
}
