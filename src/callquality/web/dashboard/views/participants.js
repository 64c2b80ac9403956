// The participants table (one row per participant, updated in place so that keyboard focus
// survives a refresh), the participant picker, and the joined/left list.

import { $, clear, h, scoreEl } from '../dom.js';
import { causeText, clock, fmt, isNum, ms, qualityOf } from '../format.js';

/** The session's first and last moments, in epoch ms (an ongoing session runs until now). */
export function sessionBounds(session) {
  const start = ms(session.start);
  let last = start;
  for (const p of session.participants || []) {
    for (const t of p.timelog || []) last = Math.max(last, t.end ? ms(t.end) : Date.now());
  }
  const end = ms(session.end) || (session.status === 'ongoing' ? Date.now() : last);
  return { start, end: Math.max(end, last, start + 1000) };
}

function label(p) {
  return p.name || p.participantId;
}

function rowOf(pid) {
  for (const row of $('participants-body').rows) if (row.dataset.participant === pid) return row;
  return null;
}

function newRow(p, onChoose) {
  const button = h('button', {
    type: 'button', class: 'row-button', 'aria-pressed': 'false',
    title: 'Show this participant\'s series in the charts',
    onclick: (event) => onChoose(p.participantId, event.detail > 0),  // detail 0: a key
  });
  const row = h('tr', { class: 'clickable', 'data-participant': p.participantId },
    h('td', { class: 'primary' }, button, h('span', { class: 'sub mono', text: p.participantId })),
    h('td', { class: 'presence-cell', 'data-label': 'Presence' }),
    h('td', { 'data-label': 'Connection', class: 'p-connection', text: '–' }),
    h('td', { 'data-label': 'Audio MOS', class: 'p-audio' }),
    h('td', { 'data-label': 'Video', class: 'p-video' }),
    h('td', { 'data-label': 'Loss p95', class: 'p-loss', text: '–' }),
    h('td', { 'data-label': 'RTT p95', class: 'p-rtt', text: '–' }),
    h('td', { 'data-label': 'Likely cause', class: 'p-cause', text: '–' }));
  row.addEventListener('click', (event) => {
    if (!event.target.closest('button')) onChoose(p.participantId, true);  // a mouse on the row
  });
  return row;
}

/** The selected candidate pair's local candidate: "relay (TURN over tcp), wifi", "host". */
export function connectionText(c) {
  if (!c || !c.candidateType) return '–';
  let text = c.candidateType;
  if (c.candidateType === 'relay' && c.relayProtocol) text += ` (TURN over ${c.relayProtocol})`;
  else if (c.protocol) text += ` (${c.protocol})`;
  if (c.networkType) text += `, ${c.networkType}`;
  return text;
}

function presenceBar(p, b) {
  const span = b.end - b.start;
  const bar = h('div', { class: 'presence', title: `presence from ${clock(b.start)} to ${clock(b.end)}` });
  for (const t of p.timelog || []) {
    const start = ms(t.start);
    const end = t.end ? ms(t.end) : b.end;
    bar.append(h('span', { style: {
      left: `${(100 * (start - b.start) / span).toFixed(2)}%`,
      width: `${Math.max(0.5, 100 * (end - start) / span).toFixed(2)}%`,
    } }));
  }
  return bar;
}

/** Draw or update the participants of a session; onChoose(pid, byPointer) toggles one's series. */
export function render(session, chosen, onChoose) {
  const body = $('participants-body');
  const b = sessionBounds(session);
  const people = session.participants || [];
  const ids = new Set(people.map((p) => p.participantId));
  for (const row of [...body.rows]) if (!ids.has(row.dataset.participant)) row.remove();
  for (const p of people) {
    const row = rowOf(p.participantId) || body.appendChild(newRow(p, onChoose));
    row.querySelector('.row-button').textContent = label(p);
    clear(row.querySelector('.presence-cell')).append(presenceBar(p, b));
    row.querySelector('.p-connection').textContent = connectionText(p.connection);
    const avg = qualityOf(p);  // the participant's average, from the session object
    clear(row.querySelector('.p-audio')).append(scoreEl('audio', avg.audio));
    clear(row.querySelector('.p-video')).append(scoreEl('video', avg.video));
  }
  renderPicker(people, chosen);
  markChosen(chosen);
  renderEvents(people, b);
}

// The picker is rebuilt only when the people change: a refresh must not reset an open select.
function renderPicker(people, chosen) {
  const select = $('participant-select');
  const key = JSON.stringify(people.map((p) => [p.participantId, label(p)]));
  if (select.dataset.people !== key) {
    select.dataset.people = key;
    clear(select).append(h('option', { value: '', text: 'All participants' }),
      ...people.map((p) => h('option', { value: p.participantId, text: label(p) })));
  }
  select.value = chosen;
}

/** Mark the participant whose series the charts show ('' for the whole session). */
export function markChosen(chosen) {
  $('participant-select').value = chosen;
  for (const row of $('participants-body').rows) {
    const on = row.dataset.participant === chosen;
    row.classList.toggle('selected', on);
    row.querySelector('.row-button').setAttribute('aria-pressed', String(on));
  }
}

/** Fill each row's percentiles and likely cause from the server's summary. */
export function renderSummary(summary) {
  for (const p of (summary && summary.participants) || []) {
    const row = rowOf(p.participantId);
    if (!row) continue;
    row.querySelector('.p-loss').textContent = p.lossPercent && isNum(p.lossPercent.p95) ? `${fmt(p.lossPercent.p95, 1)} %` : '–';
    row.querySelector('.p-rtt').textContent = p.rttMs && isNum(p.rttMs.p95) ? `${fmt(p.rttMs.p95)} ms` : '–';
    row.querySelector('.p-cause').textContent = causeText(p);  // the rule of the session's card
  }
}

function renderEvents(people, b) {
  const events = [];
  for (const p of people) {
    for (const t of p.timelog || []) {
      events.push({ t: ms(t.start), who: label(p), what: 'joined' });
      if (t.end) events.push({ t: ms(t.end) || b.end, who: label(p), what: 'left' });
    }
  }
  events.sort((x, y) => x.t - y.t);
  const list = clear($('events'));
  list.append(...events.map((e) => h('li', { class: e.what },
    h('time', { datetime: new Date(e.t).toISOString(), text: clock(e.t) }),
    h('span', { text: `${e.who} ${e.what}` }))));
  if (!events.length) list.append(h('li', { class: 'empty', text: 'No one yet.' }));
}

/** Empty the table, the picker and the events (a new session). */
export function reset() {
  clear($('participants-body'));
  clear($('events'));
  const select = $('participant-select');
  delete select.dataset.people;
  clear(select).append(h('option', { value: '', text: 'All participants' }));
}
