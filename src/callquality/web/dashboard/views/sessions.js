// The sessions list: newest first, filtered by room id and status, with each session's
// average scores as the list API returns them (qualityScore: no request per row).

import * as api from '../api.js';
import { $, announce, clear, h, scoreEl, show } from '../dom.js';
import { dateTime, duration, ms, qualityOf } from '../format.js';
import { go, sessionHref, sessionsHref } from '../router.js';

const PER_PAGE = 20;

function sessionRow(s) {
  const start = ms(s.start);
  const end = ms(s.end) || Date.now();
  const avg = qualityOf(s);
  const href = sessionHref(s.id);
  // The room's link is the row's keyboard target (Tab, then Enter); a click anywhere on the
  // row does the same for a mouse.
  const row = h('tr', { class: 'clickable', 'data-session': s.id },
    h('td', { class: 'primary' },
      h('a', { href, text: s.roomId }),
      h('span', { class: 'sub mono', text: s.id })),
    h('td', { 'data-label': 'Started', text: dateTime(start) }),
    h('td', { 'data-label': 'Duration', text: duration(end - start) }),
    h('td', { 'data-label': 'People', text: String((s.participants || []).length) }),
    h('td', { 'data-label': 'Audio MOS', class: 'avg-audio' }, scoreEl('audio', avg.audio)),
    h('td', { 'data-label': 'Video', class: 'avg-video' }, scoreEl('video', avg.video)),
    h('td', { 'data-label': 'Status' }, h('span', { class: `badge ${s.status}`, text: s.status })));
  row.addEventListener('click', (event) => {
    if (event.target.closest('a')) return;  // the link navigates by itself
    go(href);
  });
  return row;
}

function pager(info, filters) {
  const nav = clear($('sessions-pager'));
  if (info.lastPage <= 1) return;
  const link = (page, label) => h('a', { href: sessionsHref({ ...filters, page }), text: label });
  if (info.currentPage > 1) nav.append(link(info.currentPage - 1, '← Newer'));
  nav.append(h('span', { text: `page ${info.currentPage} of ${info.lastPage} (${info.total} sessions)` }));
  if (info.currentPage < info.lastPage) nav.append(link(info.currentPage + 1, 'Older →'));
}

/** Wire the search form. */
export function setUp() {
  $('search-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const roomId = $('search-room').value.trim();
    const status = $('search-status').value;
    go(sessionsHref({ roomId, status }), 'search');  // focus stays in the form
  });
}

/** Show one page of the list; returns the view ({leave}). */
export function render({ roomId, status, page }) {
  let alive = true;
  $('top-note').textContent = '';
  $('search-room').value = roomId;
  $('search-status').value = status;
  show($('sessions-error'), '');
  const body = clear($('sessions-body'));
  body.append(h('tr', null, h('td', { colspan: '7', class: 'empty', text: 'Loading…' })));
  announce('Loading sessions…');
  const q = new URLSearchParams({ page: String(page), perPage: String(PER_PAGE) });
  if (roomId) q.set('roomId', roomId);
  if (status) q.set('status', status);
  api.get(api.paths.sessions(q)).then((answer) => {
    if (!alive) return;
    clear(body);
    const none = answer.data.length === 0;
    $('sessions-empty').hidden = !none;
    $('sessions-table').hidden = none;
    body.append(...answer.data.map(sessionRow));
    pager(answer.pageInfo, { roomId, status });
    const total = answer.pageInfo.total;
    announce(none ? 'No sessions.' : `${total} session${total === 1 ? '' : 's'}, page ${answer.pageInfo.currentPage} of ${answer.pageInfo.lastPage}.`);
  }, (error) => {
    if (!alive) return;
    clear(body);
    announce('');
    show($('sessions-error'), error.message);
  });
  return { leave() { alive = false; } };
}
