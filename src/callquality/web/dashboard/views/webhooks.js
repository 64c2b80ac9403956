// Webhooks and alert rules (docs/webhooks.md): the API key's endpoints, each with its
// delivery log (GET /v2/webhooks/{id}/deliveries) and a "Send test event" button (POST
// .../test), and its alert rules. Endpoints and rules are made over the API or the CLI; this
// page shows them, and whether the deliveries get through.

import * as api from '../api.js';
import { $, announce, clear, h, show } from '../dom.js';
import { dateTimeSeconds, fmt, ms } from '../format.js';

const LOG_SIZE = 20;  // the newest deliveries of an endpoint shown
const PENDING_REREAD_MS = 5000;  // a log with a pending delivery is read again this often

function when(iso) {
  return iso ? dateTimeSeconds(ms(iso)) : '–';
}

// The last answer of a delivery: its HTTP status, else the error (a timeout, a refused
// connection), as the server wrote it.
function answerText(d) {
  if (d.lastError) return d.lastError;
  return d.lastStatusCode ? `HTTP ${d.lastStatusCode}` : '–';
}

function deliveryRow(d) {
  return h('tr', { 'data-event': d.eventId, 'data-status': d.status },
    h('td', { 'data-label': 'Time' }, h('time', { datetime: d.createdAt, text: when(d.createdAt) })),
    h('td', { 'data-label': 'Type', class: 'mono', text: d.webhookType }),
    h('td', { 'data-label': 'Status' }, h('span', { class: `badge ${d.status}`, text: d.status })),
    h('td', { 'data-label': 'Attempts', class: 'attempts', text: String(d.attempts) }),
    h('td', { 'data-label': 'Last answer', class: 'last-answer', text: answerText(d) }),
    h('td', { 'data-label': 'Last attempt', text: when(d.lastAttemptAt) }),
    h('td', { 'data-label': 'Next attempt', text: when(d.nextAttemptAt) }));
}

function deliveryTable(captionId) {
  return h('table', { class: 'list deliveries', 'aria-labelledby': captionId },
    h('thead', null, h('tr', null, ...['Time', 'Type', 'Status', 'Attempts', 'Last answer',
      'Last attempt', 'Next attempt'].map((t) => h('th', { text: t })))),
    h('tbody'));
}

function testResultText(r) {
  const took = `${fmt(r.durationMs)} ms`;
  if (r.delivered) return `Test event delivered: HTTP ${r.statusCode} in ${took}.`;
  return `Test event not delivered: ${r.error || `HTTP ${r.statusCode}`} (${took}).`;
}

// One endpoint: its URL and events, the test button and its delivery log.
function endpointCard(endpoint, view) {
  const titleId = `wh-title-${endpoint.id}`;
  const logId = `wh-log-${endpoint.id}`;
  const table = deliveryTable(logId);
  const body = table.querySelector('tbody');
  const total = h('span', { class: 'sub log-total' });
  const result = h('p', { class: 'test-result', hidden: true });
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  let timer = null;

  async function readLog() {
    clearTimeout(timer);
    const q = new URLSearchParams({ page: '1', perPage: String(LOG_SIZE) });
    try {
      const answer = await api.get(api.paths.deliveries(endpoint.id, q));
      if (!view.alive) return;
      show(error, '');
      body.replaceChildren(...answer.data.map(deliveryRow));
      if (!answer.data.length) {
        body.append(h('tr', null, h('td', { colspan: '7', class: 'empty', text: 'No deliveries yet.' })));
      }
      const n = answer.pageInfo.total;
      total.textContent = n > answer.data.length ? `the newest ${answer.data.length} of ${n}` : `${n} in all`;
      if (answer.data.some((d) => d.status === 'pending')) timer = setTimeout(readLog, PENDING_REREAD_MS);
    } catch (e) {
      if (view.alive) show(error, e.message);
    }
  }

  const button = h('button', { type: 'button', class: 'send-test', text: 'Send test event' });
  button.addEventListener('click', async () => {
    button.disabled = true;
    show(result, 'Sending…');
    try {
      const r = await api.post(api.paths.webhookTest(endpoint.id));
      if (!view.alive) return;
      result.dataset.delivered = String(r.delivered);
      show(result, testResultText(r));
      announce(result.textContent);
      await readLog();
    } catch (e) {
      if (view.alive) show(result, `Test event not sent: ${e.message}`);
    } finally {
      button.disabled = false;
    }
  });
  view.timers.push(() => clearTimeout(timer));
  readLog();

  const events = endpoint.events.length ? endpoint.events.join(', ') : 'none';
  return h('article', { class: 'card endpoint', 'data-webhook': endpoint.id, 'aria-labelledby': titleId },
    h('div', { class: 'endpoint-head' },
      h('h3', { id: titleId, class: 'mono', text: endpoint.url }),
      h('span', { class: `badge ${endpoint.enabled ? 'ongoing' : ''}`, text: endpoint.enabled ? 'enabled' : 'disabled' }),
      button),
    endpoint.description ? h('p', { class: 'meta', text: endpoint.description }) : null,
    h('p', { class: 'meta' }, `Events: ${events}. Id `, h('code', { text: endpoint.id }),
      `, registered ${when(endpoint.createdAt)}.`),
    result,
    error,
    h('h4', { id: logId }, 'Delivery log ', total),
    table);
}

function condition(rule) {
  if (rule.metric === 'noStatsS') return `no stats for ${rule.operator} ${fmt(rule.threshold)} s`;
  return `${rule.metric} ${rule.operator} ${rule.threshold} over ${rule.windowS} s`;
}

function scopeText(rule) {
  if (rule.scope === 'room') return `room ${rule.roomId}`;
  if (rule.scope === 'participant') {
    return `participant ${rule.participantId}${rule.roomId ? ` in room ${rule.roomId}` : ''}`;
  }
  return 'all rooms';
}

// Where the window's value must come back to for the alert to resolve (the hysteresis).
function resolvesText(rule) {
  if (rule.metric === 'noStatsS') return 'when stats arrive';
  const below = rule.operator === '<' || rule.operator === '<=';
  const at = below ? rule.threshold + rule.hysteresis : rule.threshold - rule.hysteresis;
  return `at ${below ? '≥' : '≤'} ${Number(at.toFixed(3))}`;
}

function ruleRow(rule, urls) {
  const notifies = rule.webhookIds.length
    ? rule.webhookIds.map((id) => urls.get(id) || id).join(', ')
    : 'every endpoint taking quality-alert';
  return h('tr', { 'data-rule': rule.id },
    h('td', { class: 'primary', text: rule.name || rule.id }),
    h('td', { 'data-label': 'Condition', class: 'mono condition', text: condition(rule) }),
    h('td', { 'data-label': 'Resolves', class: 'resolves', text: resolvesText(rule) }),
    h('td', { 'data-label': 'Scope', text: scopeText(rule) }),
    h('td', { 'data-label': 'Severity' }, h('span', { class: `badge severity-${rule.severity}`, text: rule.severity })),
    h('td', { 'data-label': 'Notifies', class: 'notifies', text: notifies }),
    h('td', { 'data-label': 'Enabled', text: rule.enabled ? 'yes' : 'no' }));
}

/** Show the endpoints and rules; returns the view ({leave}). */
export function render() {
  const view = { alive: true, timers: [] };
  $('top-note').textContent = '';
  show($('webhooks-error'), '');
  const list = clear($('endpoints'));
  const rules = clear($('rules-body'));
  list.append(h('p', { class: 'empty', text: 'Loading…' }));
  announce('Loading webhooks…');
  Promise.all([api.get(api.paths.webhooks()), api.get(api.paths.alertRules())]).then(([endpoints, found]) => {
    if (!view.alive) return;
    clear(list);
    $('endpoints-empty').hidden = endpoints.data.length > 0;
    list.append(...endpoints.data.map((e) => endpointCard(e, view)));
    const urls = new Map(endpoints.data.map((e) => [e.id, e.url]));
    $('rules-empty').hidden = found.data.length > 0;
    $('rules-table').hidden = found.data.length === 0;
    rules.append(...found.data.map((r) => ruleRow(r, urls)));
    announce(`${endpoints.data.length} webhook endpoints, ${found.data.length} alert rules.`);
  }, (error) => {
    if (!view.alive) return;
    clear(list);
    announce('');
    show($('webhooks-error'), error.message);
  });
  return {
    leave() {
      view.alive = false;
      for (const stop of view.timers) stop();
    },
  };
}
