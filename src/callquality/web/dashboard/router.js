// Hash routes: '#/' (the Overview, with ?days=&kind=&browser=...), '#/sessions' (sessions,
// with ?roomId=&status=&page=), '#/sessions/{id}' (one session), '#/webhooks' (webhooks
// and alert rules),
// and '#token=...' (a sign-in link; the token leaves the address bar at once).

// The Overview's filters (GET /v2/analytics/quality's dimensions), as in its URL.
export const OVERVIEW_FILTERS = ['browser', 'os', 'connection', 'country', 'codec'];

/** The hash of the Overview with these filters (days, kind, and OVERVIEW_FILTERS). */
export function overviewHref({ days = 7, kind = '', filters = {} } = {}) {
  const q = new URLSearchParams();
  if (days !== 7) q.set('days', String(days));
  if (kind) q.set('kind', kind);
  for (const name of OVERVIEW_FILTERS) if (filters[name]) q.set(name, filters[name]);
  const query = String(q);
  return query ? `#/?${query}` : '#/';
}

const SESSION = /^#\/sessions\/([^/?]+)/;
const TOKEN = /^#token=(.+)$/;

/** The route of a location hash: {name: 'sessions', roomId, status, page}, {name: 'session', sessionId}, {name: 'webhooks'} or {name: 'overview', ...}. */
export function parse(hash) {
  const m = SESSION.exec(hash || '#/');
  if (m) return { name: 'session', sessionId: decodeURIComponent(m[1]) };
  if (/^#\/webhooks(\?|$)/.test(hash || '')) return { name: 'webhooks' };
  const query = new URLSearchParams((hash || '').split('?')[1] || '');
  if (!/^#\/sessions(\?|$)/.test(hash || '')) {
    const filters = {};
    for (const name of OVERVIEW_FILTERS) filters[name] = query.get(name) || '';
    return { name: 'overview', days: Number(query.get('days')) || 7, kind: query.get('kind') || '', filters };
  }
  return {
    name: 'sessions',
    roomId: query.get('roomId') || '',
    status: query.get('status') || '',
    page: Math.max(1, Number(query.get('page')) || 1),
  };
}

/** The hash of the sessions list with these filters. */
export function sessionsHref({ roomId = '', status = '', page = 1 } = {}) {
  const q = new URLSearchParams();
  if (page > 1) q.set('page', String(page));
  if (roomId) q.set('roomId', roomId);
  if (status) q.set('status', status);
  const query = String(q);
  return query ? `#/sessions?${query}` : '#/sessions';
}

/** The hash of one session's page. */
export function sessionHref(sessionId) {
  return `#/sessions/${encodeURIComponent(sessionId)}`;
}

let renderRoute = () => {};
let pendingCause = null;

function run(cause) {
  let hash = location.hash || '#/';
  let signInToken = null;
  const m = TOKEN.exec(hash);
  if (m) {
    signInToken = decodeURIComponent(m[1]);
    history.replaceState(null, '', `${location.pathname}${location.search}#/`);
    hash = '#/';
  }
  renderRoute(parse(hash), { cause, signInToken });
}

/**
 * Render the current route now and on every change. render(route, {cause, signInToken}) gets
 * cause 'load' (the page opened), 'navigate' (a link, back or forward) or what go() was given.
 */
export function start(render) {
  renderRoute = render;
  window.addEventListener('hashchange', () => {
    const cause = pendingCause || 'navigate';
    pendingCause = null;
    run(cause);
  });
  run('load');
}

/** Go to a hash (rendering again if it is the current one); cause is passed to render. */
export function go(hash, cause = 'navigate') {
  if ((location.hash || '#/') === hash) {
    run(cause);
  } else {
    pendingCause = cause;
    location.hash = hash;
  }
}
