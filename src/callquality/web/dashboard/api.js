// The REST client: the token, requests, and the server's errors (docs/api.md).
// The token lives in this tab's sessionStorage only and is sent to this server alone.

const TOKEN_KEY = 'callquality.token';
let memoryToken = null;  // when storage is disabled, the sign-in lasts until reload
let onUnauthorized = () => {};

/** The token of this tab, or null. */
export function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || memoryToken;
  } catch (_) {
    return memoryToken;
  }
}

/** Keep a token for this tab (null forgets it). */
export function setToken(value) {
  memoryToken = value || null;
  try {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch (_) { /* storage disabled: memoryToken holds it */ }
}

/** Called with the server's message when a request answers 401 (the token is no good). */
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

/** An answer other than 2xx: the HTTP status and the server's message. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

/** GET a path relative to the page (e.g. 'v2/sessions/'); resolves with JSON or text. */
export async function get(path, { text = false, method = 'GET' } = {}) {
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: { Authorization: token() || '' },
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (error) {
    throw new ApiError(0, `The server cannot be reached (${error.message}).`);
  }
  if (res.ok) return text ? res.text() : res.json();
  const body = await res.json().catch(() => ({}));
  const error = new ApiError(res.status, body.message || `HTTP ${res.status}`);
  if (res.status === 401) onUnauthorized(error.message);
  throw error;
}

/** POST (no body) to a path relative to the page; resolves with JSON. */
export function post(path) {
  return get(path, { method: 'POST' });
}

const enc = encodeURIComponent;

/** The API's paths, relative to /dashboard. */
export const paths = {
  sessions: (query) => `v2/sessions/?${query}`,
  session: (sessionId) => `v2/sessions/${enc(sessionId)}`,
  summary: (sessionId) => `v2/sessions/${enc(sessionId)}/summary`,
  liveTicket: (sessionId) => `v2/sessions/${enc(sessionId)}/live/ticket`,
  live: (sessionId, ticket) => `v2/sessions/${enc(sessionId)}/live?ticket=${enc(ticket)}`,
  stats: (sessionId, participantId, intervalS) => (participantId
    ? `v2/sessions/${enc(sessionId)}/participant/${enc(participantId)}/stats?interval=${intervalS}`
    : `v2/sessions/${enc(sessionId)}/stats?interval=${intervalS}`),
  webhooks: () => 'v2/webhooks',
  deliveries: (webhookId, query) => `v2/webhooks/${enc(webhookId)}/deliveries?${query}`,
  webhookTest: (webhookId) => `v2/webhooks/${enc(webhookId)}/test`,
  alertRules: () => 'v2/alertRules',
};
