// callquality dashboard: the sessions list and one session's page over the REST API
// (docs/api.md), as native ES modules with no build step. Entry point: routes to the views.
//
//   api.js      token, requests, errors          router.js   hash routes
//   format.js   numbers, times, score bands       dom.js      element helpers
//   charts.js   uPlot charts and their legends    views/      sign-in, overview, sessions,
//                                                             session, webhooks

import * as api from './api.js';
import { uPlotLoaded } from './charts.js';
import { $, h, show } from './dom.js';
import { go, start } from './router.js';
import * as overviewView from './views/overview.js';
import * as sessionView from './views/session.js';
import * as sessionsView from './views/sessions.js';
import * as signinView from './views/signin.js';
import * as webhooksView from './views/webhooks.js';

const VIEWS = {
  signin: 'view-signin', overview: 'view-overview', sessions: 'view-sessions', session: 'view-session', webhooks: 'view-webhooks',
};
const HEADINGS = {
  signin: 'signin-title', overview: 'overview-title', sessions: 'sessions-title', session: 'session-title', webhooks: 'webhooks-title',
};
const NAV = { overview: 'nav-overview', sessions: 'nav-sessions', webhooks: 'nav-webhooks' };
let active = null;  // the view on screen ({leave}), or null

function showView(name) {
  for (const [key, id] of Object.entries(VIEWS)) $(id).hidden = key !== name;
  $('sign-out').hidden = name === 'signin';
  for (const [key, id] of Object.entries(NAV)) {
    if (key === name) $(id).setAttribute('aria-current', 'page');
    else $(id).removeAttribute('aria-current');
  }
}

// A new view takes focus on its heading, so that keyboard and screen-reader users start
// there (the link or button they used is gone). The search form keeps its focus, and the
// sign-in form on page load takes it in its text field.
function moveFocus(name, cause) {
  if (cause === 'search' || cause === 'filter') return;
  if (name === 'signin' && cause === 'load') {
    $('token-input').focus();
    return;
  }
  $(HEADINGS[name]).focus({ preventScroll: false });
}

function render(route, { cause, signInToken }) {
  if (signInToken) api.setToken(signInToken);
  if (active) active.leave();
  active = null;
  if (!api.token()) {
    showView('signin');
    moveFocus('signin', cause);
    return;
  }
  showView(route.name);
  if (route.name === 'session') active = sessionView.render(route.sessionId);
  else if (route.name === 'overview') active = overviewView.render(route);
  else if (route.name === 'webhooks') active = webhooksView.render();
  else active = sessionsView.render(route);
  moveFocus(route.name, cause);
}

function signOut(message) {
  api.setToken(null);
  if (active) active.leave();
  active = null;
  show($('signin-error'), message || '');
  showView('signin');
  go('#/', 'signed-out');
}

function main() {
  if (!uPlotLoaded()) {
    document.body.append(h('p', { class: 'error notice', role: 'alert', text: 'uPlot did not load (static/vendor/uplot).' }));
  }
  api.whenUnauthorized(signOut);
  signinView.setUp(() => go(location.hash || '#/', 'signed-in'));  // where the link pointed
  sessionsView.setUp();
  overviewView.setUp();
  $('sign-out').addEventListener('click', () => signOut(''));
  start(render);
}

main();
