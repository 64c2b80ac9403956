// One session's page: header, cards, charts, participants. An ongoing session is re-read when
// its live stream (live.js) says new intervals arrived, or every REFRESH_MS when the stream
// is refused. Everything a view starts (requests, timers, listeners, charts, the stream)
// stops on leave().

import * as api from '../api.js';
import { createCharts } from '../charts.js';
import { $, announce, h, show } from '../dom.js';
import { dateTime, duration, qualityOf } from '../format.js';
import { subscribe } from '../live.js';
import * as cards from './cards.js';
import * as participants from './participants.js';

const REFRESH_MS = 10000;
const INTERVALS_S = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
const TARGET_BUCKETS = 150;

/** The bucket length that gives at most TARGET_BUCKETS points over the session. */
function autoInterval(session) {
  const b = participants.sessionBounds(session);
  const seconds = (b.end - b.start) / 1000;
  return INTERVALS_S.find((i) => seconds / i <= TARGET_BUCKETS) || 3600;
}

function renderHeader(session) {
  $('session-title').textContent = session.roomId;
  const status = $('session-status');
  status.textContent = session.status;
  status.className = `badge ${session.status}`;
  status.hidden = false;
  const b = participants.sessionBounds(session);
  const people = (session.participants || []).length;
  $('session-meta').textContent = `Session ${session.id} · ${dateTime(b.start)} · ${duration(b.end - b.start)} · ${people} participants`;
  $('top-note').textContent = session.roomId;
}

class SessionView {
  constructor(sessionId) {
    this.sessionId = sessionId;
    this.alive = true;
    this.session = null;
    this.sessionStats = null;  // the whole session's series (for the cards)
    this.summary = null;
    this.participant = '';     // whose series the charts show; '' is the whole session
    this.charts = null;
    this.timer = null;
    this.live = null;          // the live stream while the session is ongoing
    this.listeners = new AbortController();
  }

  open() {
    $('session-title').textContent = 'Session';
    $('top-note').textContent = '';  // the room of the page before, until this one loads
    $('session-status').hidden = true;
    $('session-content').hidden = true;
    $('interval-select').value = '';
    show($('session-error'), '');
    cards.reset();
    participants.reset();
    $('charts').replaceChildren();
    announce('Loading the session…');
    const signal = this.listeners.signal;
    $('participant-select').addEventListener('change', (e) => this.choose(e.target.value, false), { signal });
    $('interval-select').addEventListener('change', () => this.loadSeries(), { signal });
    $('csv-link').addEventListener('click', (e) => this.downloadCsv(e), { signal });
    $('session-controls').addEventListener('submit', (e) => e.preventDefault(), { signal });
    api.get(api.paths.session(this.sessionId)).then((session) => {
      if (!this.alive) return;
      this.session = session;
      renderHeader(session);
      $('session-content').hidden = false;  // before the charts: they take its width
      this.renderSession();
      this.charts = createCharts($('charts'), `cq-${this.sessionId}`);
      announce(`Session of room ${session.roomId}, ${session.status}.`);
      this.loadSeries();
      this.loadSummary();
      if (session.status === 'ongoing') this.goLive();
    }, (error) => {
      if (!this.alive) return;
      announce('');
      // The error alone: no empty cards, charts or tables around it.
      $('session-title').textContent = error.status === 404 ? 'No such session' : 'The session could not be read';
      show($('session-error'), error.status === 404
        ? `No such session for this token: ${this.sessionId}`
        : error.message);
    });
  }

  // The status badge says how the page follows the session: 'live' (the stream) or
  // 'polling' (every REFRESH_MS, the stream refused).
  following(mode) {
    const status = $('session-status');
    status.dataset.follow = mode;
    status.title = mode === 'live' ? 'updates as reports arrive'
      : mode === 'polling' ? `re-read every ${REFRESH_MS / 1000} s` : '';
  }

  goLive() {
    this.following('live');
    this.live = subscribe(this.sessionId, {
      onChange: () => this.refresh(),
      onEnded: () => { this.live = null; this.following(''); this.refresh(); },
      onRefused: () => {
        this.live = null;
        this.following('polling');
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.refresh(), REFRESH_MS);
      },
    });
  }

  leave() {
    this.alive = false;
    if (this.live) this.live.close();
    clearTimeout(this.timer);
    this.listeners.abort();
    if (this.charts) this.charts.destroy();
  }

  nameOf(pid) {
    const p = (this.session.participants || []).find((x) => x.participantId === pid);
    return (p && p.name) || pid;
  }

  renderSession() {
    cards.render(this.session, this.sessionStats, this.summary, (pid) => this.nameOf(pid));
    participants.render(this.session, this.participant,
      (pid, byPointer) => this.choose(pid, true, byPointer));
    participants.renderSummary(this.summary);
  }

  seriesPath() {
    const interval = Number($('interval-select').value) || autoInterval(this.session);
    return api.paths.stats(this.sessionId, this.participant, interval);
  }

  async loadSeries() {
    clearTimeout(this.timer);
    const participant = this.participant;
    try {
      const answer = await api.get(this.seriesPath());
      if (!this.alive || participant !== this.participant) return;
      show($('session-error'), '');
      const who = participant
        ? (this.session.participants || []).find((p) => p.participantId === participant)
        : this.session;
      this.charts.draw(answer.stats, qualityOf(who), participant ? 'participant' : 'session');
      if (!participant) {
        this.sessionStats = answer.stats;
        cards.render(this.session, this.sessionStats, this.summary, (pid) => this.nameOf(pid));
      }
    } catch (error) {
      if (this.alive) show($('session-error'), error.message);
    }
    if (this.alive && this.session.status === 'ongoing' && !this.live) {
      clearTimeout(this.timer);  // one timer, however many loads ran
      this.timer = setTimeout(() => this.refresh(), REFRESH_MS);
    }
  }

  async loadSummary() {
    try {
      const summary = await api.get(api.paths.summary(this.sessionId));
      if (!this.alive) return;
      this.summary = summary;
      this.renderSession();
    } catch (_) {
      // A participant-bound token may not read the summary: the other cards stay.
    }
  }

  // An ongoing session: re-read it (new participants, timelogs, averages), its summary and
  // its series.
  async refresh() {
    if (!this.alive) return;
    try {
      const session = await api.get(api.paths.session(this.sessionId));
      if (!this.alive) return;
      this.session = session;
      renderHeader(session);
      this.renderSession();
      this.loadSummary();
      this.loadSeries();
    } catch (_) {
      if (this.alive && !this.live) this.timer = setTimeout(() => this.refresh(), REFRESH_MS);
    }
  }

  /**
   * Chart one participant's series (toggle: the chosen one again goes back to everyone). A
   * click scrolls to the charts; a key press leaves the page where the focus is.
   */
  choose(pid, toggle, byPointer = false) {
    this.participant = toggle && this.participant === pid ? '' : pid;
    participants.markChosen(this.participant);
    this.loadSeries();
    if (byPointer) $('charts').scrollIntoView({ behavior: 'smooth', block: 'start' });
  }

  async downloadCsv(event) {
    event.preventDefault();
    try {
      const text = await api.get(`${this.seriesPath()}&format=csv`, { text: true });
      const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
      const name = `${this.sessionId}${this.participant ? `-${this.participant}` : ''}-stats.csv`;
      const a = h('a', { href: url, download: name });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (error) {
      if (this.alive) show($('session-error'), error.message);
    }
  }
}

/** Open a session's page; returns the view ({leave}). */
export function render(sessionId) {
  const view = new SessionView(sessionId);
  view.open();
  return view;
}
