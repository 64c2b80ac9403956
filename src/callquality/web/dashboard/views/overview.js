// The Overview: how all calls are going (GET /v2/analytics/quality and /worst, docs/api.md).
// Poor-call rate over time with the participant-session count, breakdowns as bar charts,
// the top causes and the worst participant-sessions. The filters live in the URL.

import * as api from '../api.js';
import { uPlotLoaded } from '../charts.js';
import { $, announce, clear, h, scoreEl, show } from '../dom.js';
import { dateTime, fmt } from '../format.js';
import { OVERVIEW_FILTERS, go, overviewHref, sessionHref } from '../router.js';

const BREAKDOWNS = [
  { key: 'browser', title: 'Browser' },
  { key: 'os', title: 'OS' },
  { key: 'connection', title: 'Connection type' },
  { key: 'country', title: 'Country' },
  { key: 'codec', title: 'Codec' },
];
const BAR_LIMIT = 8;
const COLOR = '#c0392b';
const COUNT_COLOR = '#7aa7f0';
let plots = [];

function pct(rate) {
  return rate == null ? null : Math.round(rate * 1000) / 10;
}

function query(route, groupBy, extra = {}) {
  const to = Date.now();
  const q = new URLSearchParams({ from: String(to - route.days * 86400000), to: String(to), ...extra });
  if (groupBy) q.set('groupBy', groupBy);
  if (route.kind) q.set('kind', route.kind);
  for (const name of OVERVIEW_FILTERS) if (route.filters[name]) q.set(name, route.filters[name]);
  return q;
}

function newPlot(el, opts, data) {
  const UPlot = uPlotLoaded();
  if (!UPlot) return;
  const width = Math.max(240, Math.floor(el.clientWidth));
  const plot = new UPlot({ width, height: 180, legend: { show: false }, ...opts }, data, el);
  plots.push(plot);
}

function drawTrend(route, groups) {
  const fig = $('ov-trend');
  const plotEl = clear(fig.querySelector('.plot'));
  const stats = clear(fig.querySelector('.chart-stats'));
  const xs = groups.map((g) => Date.parse(g.time) / 1000);
  const rates = groups.map((g) => pct(g.poorStreamRate));
  const counts = groups.map((g) => g.participantSessions);
  fig.dataset.points = JSON.stringify({ time: groups.map((g) => g.time), rate: rates, sessions: counts });
  const UPlot = uPlotLoaded();
  newPlot(plotEl, {
    scales: { x: { time: true }, rate: { range: (u, min, max) => [0, Math.max(5, max || 0) * 1.1] }, n: {} },
    axes: [{}, { scale: 'rate', values: (u, t) => t.map((v) => `${fmt(v, 0)} %`) },
      { scale: 'n', side: 1, grid: { show: false } }],
    series: [{}, { label: 'participant-sessions', scale: 'n', stroke: COUNT_COLOR, fill: COUNT_COLOR,
      paths: UPlot && UPlot.paths.bars ? UPlot.paths.bars({ size: [0.6] }) : undefined, points: { show: false } },
    { label: 'poor-call rate', scale: 'rate', stroke: COLOR, width: 2 }],
  }, [xs, counts, rates]);
  const total = counts.reduce((a, b) => a + b, 0);
  stats.append(h('span', { class: 'series-stat', text: `${total} participant-sessions in ${groups.length} ${route.days > 2 ? 'days' : 'hours'}` }));
}

function drawBars(container, spec, groups) {
  const shown = groups.slice(0, BAR_LIMIT);
  const labels = shown.map((g) => String(g.key[spec.key]));
  const rates = shown.map((g) => pct(g.poorStreamRate));
  const plotEl = h('div', { class: 'plot' });
  const values = h('ul', { class: 'bar-values' }, ...shown.map((g, i) => h('li', {
    'data-key': labels[i], 'data-rate': String(g.poorStreamRate), 'data-sessions': String(g.participantSessions),
    text: `${labels[i]}: ${fmt(rates[i], 1)} % of ${g.participantSessions}`,
  })));
  const fig = h('figure', { class: 'chart', 'data-chart': spec.key },
    h('figcaption', null, `Poor-call rate by ${spec.title.toLowerCase()} `, h('small', { text: '%' })), plotEl, values);
  fig.dataset.points = JSON.stringify({ key: labels, rate: rates });
  container.append(fig);
  const UPlot = uPlotLoaded();
  newPlot(plotEl, {
    scales: { x: { time: false, range: [-0.5, Math.max(shown.length, 1) - 0.5] }, y: { range: (u, min, max) => [0, Math.max(5, max || 0) * 1.1] } },
    axes: [{ values: (u, ticks) => ticks.map((t) => (Number.isInteger(t) ? (labels[t] || '') : '')), space: 40 }, {}],
    series: [{}, { label: spec.title, stroke: COLOR, fill: COLOR,
      paths: UPlot && UPlot.paths.bars ? UPlot.paths.bars({ size: [0.6] }) : undefined, points: { show: false } }],
  }, [shown.map((_, i) => i), rates]);
}

function card(title, value, detail) {
  return h('div', { class: 'card summary-card' }, h('div', { class: 'label', text: title }),
    h('div', { class: 'value', text: value }), h('div', { class: 'detail', text: detail }));
}

function worstRow(w) {
  return h('tr', { 'data-session': w.sessionId, 'data-participant': w.participantId },
    h('td', { class: 'primary' }, h('a', { href: sessionHref(w.sessionId), text: w.roomId })),
    h('td', { text: w.participantId }),
    h('td', { text: dateTime(Date.parse(w.start)) }),
    h('td', { class: 'poor-share', text: w.poorShare == null ? '–' : `${fmt(w.poorShare * 100, 0)} %` }),
    h('td', null, scoreEl('audio', w.audioMos.mean)),
    h('td', { text: w.likelyCause || '–' }));
}

function fillForm(route) {
  $('ov-days').value = String(route.days);
  $('ov-kind').value = route.kind;
  for (const name of OVERVIEW_FILTERS) $(`ov-${name}`).value = route.filters[name];
}

/** Wire the filter form: a change goes to the Overview's URL with those filters. */
export function setUp() {
  $('overview-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const filters = {};
    for (const name of OVERVIEW_FILTERS) filters[name] = $(`ov-${name}`).value.trim();
    go(overviewHref({ days: Number($('ov-days').value), kind: $('ov-kind').value, filters }), 'filter');
  });
  for (const id of ['ov-days', 'ov-kind']) {
    $(id).addEventListener('change', () => $('overview-form').requestSubmit());
  }
}

/** Show the Overview of route ({days, kind, filters}); returns the view ({leave}). */
export function render(route) {
  let alive = true;
  $('top-note').textContent = '';
  fillForm(route);
  show($('overview-error'), '');
  const time = route.days > 2 ? 'day' : 'hour';
  const get = (path, q) => api.get(`v2/analytics/${path}?${q}`);
  Promise.all([
    get('quality', query(route, time, { perPage: '1000' })),
    get('quality', query(route, 'all')),
    ...BREAKDOWNS.map((b) => get('quality', query(route, b.key))),
    get('worst', query(route, null, { perPage: '10' })),
  ]).then(([trend, all, ...rest]) => {
    if (!alive) return;
    const worst = rest.pop();
    plots.forEach((p) => p.destroy());
    plots = [];
    const whole = all.data[0];
    const cards = clear($('ov-cards'));
    cards.append(
      card('Participant-sessions', whole ? String(whole.participantSessions) : '0',
        whole ? `${fmt(whole.participantMinutes, 0)} participant-minutes` : 'none in this period'),
      card('Poor-call rate', whole ? `${fmt(pct(whole.poorStreamRate), 1)} %` : '–',
        'participant-sessions with a poor stream'),
      card('Audio MOS p50 / p5', whole ? `${fmt(whole.audioMos.p50, 2)} / ${fmt(whole.audioMos.p5, 2)}` : '–',
        'of the participant-sessions\u2019 means'));
    drawTrend(route, trend.data);
    const breakdowns = clear($('ov-breakdowns'));
    BREAKDOWNS.forEach((b, i) => drawBars(breakdowns, b, rest[i].data));
    const causes = clear($('ov-causes'));
    for (const c of (whole ? whole.topCauses : [])) {
      causes.append(h('li', { 'data-cause': c.cause, 'data-share': String(c.share),
        text: `${c.cause}: ${fmt(c.share * 100, 0)} % of poor calls (${c.participantSessions})` }));
    }
    if (!causes.children.length) causes.append(h('li', { text: 'no poor calls' }));
    const body = clear($('ov-worst-body'));
    worst.data.forEach((w) => body.append(worstRow(w)));
    $('view-overview').dataset.loaded = String(Date.now());
    announce(`Overview: ${whole ? whole.participantSessions : 0} participant-sessions`);
  }).catch((error) => {
    if (alive) show($('overview-error'), error.message);
  });
  return { leave() { alive = false; } };
}
