/* callquality dashboard: sessions list and session page over the REST API (docs/api.md).
 * No build step. The token lives in this tab's sessionStorage only. Every value from the
 * server is rendered with textContent, never as HTML.
 */
(function () {
  'use strict';

  var TOKEN_KEY = 'callquality.token';
  var PER_PAGE = 20;
  var INTERVALS = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
  var TARGET_BUCKETS = 150;
  var REFRESH_MS = 10000;
  var COLORS = { audio: '#2f6fdf', video: '#e8710a', audio2: '#7aa7f0', video2: '#f3b26b' };

  // ---- small helpers -------------------------------------------------------------------

  function $(id) { return document.getElementById(id); }

  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === 'text') el.textContent = v;
        else if (k === 'class') el.className = v;
        else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
        else if (k === 'style') Object.assign(el.style, v);
        else el.setAttribute(k, v === true ? '' : v);
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined) continue;
      el.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return el;
  }

  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

  function show(el, message) {
    el.textContent = message || '';
    el.hidden = !message;
  }

  function num(v) { return typeof v === 'number' && isFinite(v); }

  function fmt(v, digits) { return num(v) ? v.toFixed(digits === undefined ? 0 : digits) : '–'; }

  function mean(values) {
    var known = values.filter(num);
    if (!known.length) return null;
    return known.reduce(function (a, b) { return a + b; }, 0) / known.length;
  }

  function ms(iso) { return iso ? Date.parse(iso) : null; }

  function clock(t) {
    return new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }

  function dateTime(t) {
    return new Date(t).toLocaleString([], { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  }

  function duration(msLong) {
    if (!num(msLong) || msLong < 0) return '–';
    var s = Math.round(msLong / 1000);
    if (s < 60) return s + ' s';
    var m = Math.floor(s / 60);
    if (m < 60) return m + ' min ' + (s % 60 ? (s % 60) + ' s' : '');
    return Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
  }

  // Colour bands. Audio: G.107 Annex B (R 80 ≈ MOS 4.03 "satisfied", R 70 ≈ 3.6 "some users
  // dissatisfied", R 60 ≈ 3.1 "many"). Video: the 5-point ACR scale of P.910 (4 good, 3 fair).
  function band(kind, v) {
    if (!num(v)) return 'none';
    var cuts = kind === 'audio' ? [4.03, 3.6, 3.1] : [4.0, 3.5, 3.0];
    return v >= cuts[0] ? 'good' : v >= cuts[1] ? 'fair' : v >= cuts[2] ? 'poor' : 'bad';
  }

  function scoreEl(kind, v) {
    return h('span', { class: 'score ' + band(kind, v), text: fmt(v, 2) });
  }

  // ---- API -----------------------------------------------------------------------------

  function token() { try { return sessionStorage.getItem(TOKEN_KEY); } catch (_) { return null; } }

  function setToken(t) {
    try {
      if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
    } catch (_) { /* storage disabled: the sign-in lasts until reload */ }
    memoryToken = t;
  }
  var memoryToken = null;

  function ApiError(status, message) { this.status = status; this.message = message; }

  function api(path, asText) {
    return fetch(path, {
      headers: { Authorization: token() || memoryToken || '' },
      credentials: 'omit',
      cache: 'no-store',
    }).then(function (res) {
      if (res.ok) return asText ? res.text() : res.json();
      return res.json().catch(function () { return {}; }).then(function (body) {
        var err = new ApiError(res.status, body.message || ('HTTP ' + res.status));
        if (res.status === 401) signOut(err.message);
        throw err;
      });
    });
  }

  // At most `limit` requests in flight: the list fetches one stats series per row.
  function pool(limit) {
    var active = 0;
    var waiting = [];
    function next() {
      if (active >= limit || !waiting.length) return;
      active++;
      var job = waiting.shift();
      job.run().then(job.resolve, job.reject).then(function () { active--; next(); });
    }
    return function (run) {
      return new Promise(function (resolve, reject) {
        waiting.push({ run: run, resolve: resolve, reject: reject });
        next();
      });
    };
  }
  var limited = pool(4);

  // ---- routing -------------------------------------------------------------------------

  var views = ['view-signin', 'view-sessions', 'view-session'];
  var current = null;  // the session page's state, or null

  function showView(id) {
    views.forEach(function (v) { $(v).hidden = v !== id; });
    $('sign-out').hidden = id === 'view-signin';
  }

  function route() {
    var hash = location.hash || '#/';
    var m = /^#token=(.+)$/.exec(hash);
    if (m) {  // a sign-in link: keep the token, drop it from the address bar
      setToken(decodeURIComponent(m[1]));
      history.replaceState(null, '', location.pathname + location.search + '#/');
      hash = '#/';
    }
    leaveSession();
    if (!token() && !memoryToken) { showView('view-signin'); $('token-input').focus(); return; }
    m = /^#\/sessions\/([^/?]+)/.exec(hash);
    if (m) { openSession(decodeURIComponent(m[1])); return; }
    var query = new URLSearchParams(hash.split('?')[1] || '');
    listSessions(query.get('roomId') || '', query.get('status') || '', Number(query.get('page')) || 1);
  }

  function signOut(message) {
    setToken(null);
    location.hash = '#/';
    showView('view-signin');
    show($('signin-error'), message || '');
  }

  // ---- sign in -------------------------------------------------------------------------

  function onSignIn(event) {
    event.preventDefault();
    var value = $('token-input').value.trim().replace(/^Bearer\s+/i, '');
    if (!value) return;
    var button = event.target.querySelector('button');
    button.disabled = true;
    setToken(value);
    api('v2/sessions/?perPage=1').then(function () {
      $('token-input').value = '';
      show($('signin-error'), '');
      route();
    }, function (err) {
      setToken(null);
      var why = err.status === 403
        ? 'This token may not read sessions (an rtc-only token?). Use one with the crawler role. '
        : '';
      show($('signin-error'), why + err.message);
      showView('view-signin');
    }).then(function () { button.disabled = false; });
  }

  // ---- sessions list -------------------------------------------------------------------

  function listSessions(roomId, status, page) {
    showView('view-sessions');
    $('top-note').textContent = '';
    $('search-room').value = roomId;
    $('search-status').value = status;
    show($('sessions-error'), '');
    var body = clear($('sessions-body'));
    body.appendChild(h('tr', null, h('td', { colspan: '7', class: 'empty', text: 'Loading…' })));
    var q = new URLSearchParams({ page: String(page), perPage: String(PER_PAGE) });
    if (roomId) q.set('roomId', roomId);
    if (status) q.set('status', status);
    api('v2/sessions/?' + q).then(function (answer) {
      clear(body);
      $('sessions-empty').hidden = answer.data.length > 0;
      $('sessions-table').hidden = answer.data.length === 0;
      answer.data.forEach(function (s) { body.appendChild(sessionRow(s)); });
      pager(answer.pageInfo, roomId, status);
    }, function (err) {
      clear(body);
      show($('sessions-error'), err.message);
    });
  }

  function sessionRow(s) {
    var start = ms(s.start);
    var end = ms(s.end) || Date.now();
    var audio = h('td', { 'data-label': 'Audio MOS', class: 'avg-audio' }, scoreEl('audio', null));
    var video = h('td', { 'data-label': 'Video', class: 'avg-video' }, scoreEl('video', null));
    var open = function () { location.hash = '#/sessions/' + encodeURIComponent(s.id); };
    var row = h('tr', { class: 'clickable', 'data-session': s.id, onclick: open },
      h('td', { class: 'primary' },
        h('a', { href: '#/sessions/' + encodeURIComponent(s.id), text: s.roomId }),
        h('span', { class: 'sub mono', text: s.id })),
      h('td', { 'data-label': 'Started', text: dateTime(start) }),
      h('td', { 'data-label': 'Duration', text: duration(end - start) }),
      h('td', { 'data-label': 'People', text: String((s.participants || []).length) }),
      audio, video,
      h('td', { 'data-label': 'Status' }, h('span', { class: 'badge ' + s.status, text: s.status })));
    // The averages at a glance: one bucket per hour is one or two numbers per session.
    limited(function () { return api('v2/sessions/' + encodeURIComponent(s.id) + '/stats?interval=3600'); })
      .then(function (answer) {
        var avg = averageScores(answer.stats);
        clear(audio).appendChild(scoreEl('audio', avg.audio));
        clear(video).appendChild(scoreEl('video', avg.video));
      }, function () { /* the row stays usable without its averages */ });
    return row;
  }

  function pager(info, roomId, status) {
    var nav = clear($('sessions-pager'));
    if (info.lastPage <= 1) return;
    function link(page, label) {
      var q = new URLSearchParams({ page: String(page) });
      if (roomId) q.set('roomId', roomId);
      if (status) q.set('status', status);
      return h('a', { href: '#/?' + q, text: label });
    }
    if (info.currentPage > 1) nav.appendChild(link(info.currentPage - 1, '← Newer'));
    nav.appendChild(h('span', { text: 'page ' + info.currentPage + ' of ' + info.lastPage + ' (' + info.total + ' sessions)' }));
    if (info.currentPage < info.lastPage) nav.appendChild(link(info.currentPage + 1, 'Older →'));
  }

  function onSearch(event) {
    event.preventDefault();
    var q = new URLSearchParams();
    var room = $('search-room').value.trim();
    if (room) q.set('roomId', room);
    if ($('search-status').value) q.set('status', $('search-status').value);
    var target = '#/' + (String(q) ? '?' + q : '');
    if (location.hash === target) route(); else location.hash = target;
  }

  // ---- session page --------------------------------------------------------------------

  // Each chart: series of the stats entries, with a unit and a value formatter.
  var CHARTS = [
    { key: 'quality', title: 'Quality score', unit: 'MOS', digits: 2, range: [1, 5], series: [
      { label: 'Audio MOS', color: COLORS.audio, get: function (b) { return b.qualityScore && b.qualityScore.audio; } },
      { label: 'Video', color: COLORS.video, get: function (b) { return b.qualityScore && b.qualityScore.video; } }] },
    { key: 'loss', title: 'Packets lost', unit: 'packets', digits: 0, series: [
      { label: 'Recv audio', color: COLORS.audio, get: function (b) { return b.recvAudioPacketLost; } },
      { label: 'Recv video', color: COLORS.video, get: function (b) { return b.recvVideoPacketLost; } },
      { label: 'Send audio', color: COLORS.audio2, get: function (b) { return b.sendAudioPacketLost; } },
      { label: 'Send video', color: COLORS.video2, get: function (b) { return b.sendVideoPacketLost; } }] },
    { key: 'rtt', title: 'Round-trip time', unit: 'ms', digits: 0, series: [
      { label: 'Audio', color: COLORS.audio, get: function (b) { return b.averageAudioRtt; } },
      { label: 'Video', color: COLORS.video, get: function (b) { return b.averageVideoRtt; } }] },
    { key: 'jitter', title: 'Jitter', unit: 'ms', digits: 1, series: [
      { label: 'Audio', color: COLORS.audio, get: function (b) { return b.averageAudioJitter; } },
      { label: 'Video', color: COLORS.video, get: function (b) { return b.averageVideoJitter; } }] },
    { key: 'video-bitrate', title: 'Video bitrate', unit: 'kbit/s', digits: 0, scale: 1000, series: [
      { label: 'Send', color: COLORS.video, get: function (b) { return b.averageSendVideoBitrate; } },
      { label: 'Recv', color: COLORS.video2, get: function (b) { return b.averageRecvVideoBitrate; } }] },
    { key: 'audio-bitrate', title: 'Audio bitrate', unit: 'kbit/s', digits: 1, scale: 1000, series: [
      { label: 'Send', color: COLORS.audio, get: function (b) { return b.averageSendAudioBitrate; } },
      { label: 'Recv', color: COLORS.audio2, get: function (b) { return b.averageRecvAudioBitrate; } }] },
  ];

  function leaveSession() {
    if (!current) return;
    clearTimeout(current.timer);
    current.plots.forEach(function (p) { p.plot.destroy(); });
    if (current.resize) current.resize.disconnect();
    current = null;
  }

  function openSession(sessionId) {
    showView('view-session');
    show($('session-error'), '');
    $('session-title').textContent = 'Session';
    $('session-meta').textContent = '';
    $('session-status').textContent = '';
    clear($('summary-cards'));
    clear($('charts'));
    clear($('participants-body'));
    clear($('events'));
    var select = $('participant-select');
    clear(select).appendChild(h('option', { value: '', text: 'All participants' }));
    current = { sessionId: sessionId, plots: [], timer: null, participant: '', session: null,
                averages: {} };
    var state = current;
    var base = 'v2/sessions/' + encodeURIComponent(sessionId);
    api(base).then(function (session) {
      if (state !== current) return;
      state.session = session;
      renderHeader(session);
      renderParticipants(session, state);
      state.participant = '';
      buildCharts(state);
      loadSeries(state);
      loadSummary(state, base);
    }, function (err) {
      show($('session-error'), err.status === 404 ? 'No such session for this token: ' + sessionId : err.message);
    });
  }

  function sessionBounds(session) {
    var start = ms(session.start);
    var last = start;
    (session.participants || []).forEach(function (p) {
      (p.timelog || []).forEach(function (t) { last = Math.max(last, t.end ? ms(t.end) : Date.now()); });
    });
    var end = ms(session.end) || (session.status === 'ongoing' ? Date.now() : last);
    return { start: start, end: Math.max(end, last, start + 1000) };
  }

  function renderHeader(session) {
    $('session-title').textContent = session.roomId;
    var status = $('session-status');
    status.textContent = session.status;
    status.className = 'badge ' + session.status;
    var b = sessionBounds(session);
    $('session-meta').textContent = 'Session ' + session.id + ' · ' + dateTime(b.start) + ' · ' +
      duration(b.end - b.start) + ' · ' + (session.participants || []).length + ' participants';
    $('top-note').textContent = session.roomId;
  }

  function autoInterval(session) {
    var b = sessionBounds(session);
    var seconds = (b.end - b.start) / 1000;
    for (var i = 0; i < INTERVALS.length; i++) {
      if (seconds / INTERVALS[i] <= TARGET_BUCKETS) return INTERVALS[i];
    }
    return 3600;
  }

  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

  function plotSize(el) {
    var width = Math.max(240, Math.floor(el.clientWidth));
    return { width: width, height: width < 500 ? 170 : 200 };
  }

  // Tick labels as wall-clock times; seconds only when the ticks are less than a minute apart.
  function timeTicks(u, ticks) {
    var step = ticks.length > 1 ? ticks[1] - ticks[0] : 60;
    return ticks.map(function (t) {
      var d = new Date(t * 1000);
      var hm = String(d.getHours()).padStart(2, '0') + ':' + String(d.getMinutes()).padStart(2, '0');
      return step < 60 ? hm + ':' + String(d.getSeconds()).padStart(2, '0') : hm;
    });
  }

  // As many decimals as the tick step needs (0.5 ms ticks read 0.5, not 1).
  function valueTicks(u, ticks) {
    var step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : 1;
    var digits = step >= 1 ? 0 : Math.min(3, Math.ceil(-Math.log10(step) - 1e-9));
    return ticks.map(function (t) { return fmt(t, digits); });
  }

  // Hovering one chart moves the cursor on all (cursor.sync): each legend shows its values.
  function cursorValues(state, u) {
    var idx = u.cursor.idx;
    state.plots.forEach(function (p) {
      if (p.plot !== u) return;
      var spans = p.statsEl.querySelectorAll('.at');
      var t = idx == null ? null : u.data[0][idx];
      for (var i = 0; i < spans.length; i++) {
        var v = idx == null ? null : u.data[i + 1][idx];
        spans[i].textContent = t == null ? '' : ' · ' + clock(t * 1000) + ' ' + (v == null ? '–' : fmt(v, p.spec.digits));
      }
    });
  }

  function buildCharts(state) {
    var container = clear($('charts'));
    var axis = { stroke: cssVar('--muted'), grid: { stroke: cssVar('--grid'), width: 1 }, ticks: { stroke: cssVar('--grid') } };
    CHARTS.forEach(function (spec) {
      var plotEl = h('div', { class: 'plot' });
      var statsEl = h('div', { class: 'chart-stats' });
      var figure = h('figure', { class: 'chart', 'data-chart': spec.key },
        h('figcaption', null, spec.title + ' ', h('small', { text: spec.unit })), plotEl, statsEl);
      container.appendChild(figure);
      var size = plotSize(plotEl);
      var opts = {
        width: size.width,
        height: size.height,
        cursor: { sync: { key: 'cq-' + state.sessionId }, drag: { x: true, y: false } },
        legend: { show: false },  // our own legend below: averages, and values under the cursor
        hooks: { setCursor: [function (u) { cursorValues(state, u); }] },
        scales: { x: { time: true }, y: spec.range ? { range: spec.range } : { range: function (u, min, max) { return [0, Math.max(max || 0, spec.key === 'loss' ? 5 : 1) * 1.1]; } } },
        axes: [
          Object.assign({}, axis, { space: 50, values: timeTicks }),
          Object.assign({}, axis, { size: 52, values: valueTicks }),
        ],
        series: [{ label: 'Time', value: function (u, t) { return t == null ? '–' : clock(t * 1000); } }].concat(spec.series.map(function (s) {
          return {
            label: s.label, stroke: s.color, width: 2, spanGaps: false,
            points: { show: false },
            value: function (u, v) { return v == null ? '–' : fmt(v, spec.digits); },
          };
        })),
      };
      var empty = [[]].concat(spec.series.map(function () { return []; }));
      var plot = new uPlot(opts, empty, plotEl);
      state.plots.push({ spec: spec, plot: plot, el: plotEl, statsEl: statsEl });
    });
    if (typeof ResizeObserver === 'function') {
      state.resize = new ResizeObserver(function () {
        state.plots.forEach(function (p) { p.plot.setSize(plotSize(p.el)); });
      });
      state.plots.forEach(function (p) { state.resize.observe(p.el); });
    }
  }

  function seriesPath(state) {
    var base = 'v2/sessions/' + encodeURIComponent(state.sessionId);
    var interval = Number($('interval-select').value) || autoInterval(state.session);
    var path = state.participant
      ? base + '/participant/' + encodeURIComponent(state.participant) + '/stats'
      : base + '/stats';
    return path + '?interval=' + interval;
  }

  function loadSeries(state) {
    clearTimeout(state.timer);
    var path = seriesPath(state);
    api(path).then(function (answer) {
      if (state !== current) return;
      drawSeries(state, answer.stats);
      if (!state.participant) renderSessionCards(state, answer.stats);
      if (!state.participant && (!('' in state.averages) || state.session.status === 'ongoing')) loadSessionAverage(state);
      if (state.session.status === 'ongoing') {
        state.timer = setTimeout(function () { refresh(state); }, REFRESH_MS);
      }
    }, function (err) {
      if (state === current) show($('session-error'), err.message);
    });
  }

  // An ongoing session: re-read it (new participants, timelogs) and its series.
  function refresh(state) {
    if (state !== current) return;
    api('v2/sessions/' + encodeURIComponent(state.sessionId)).then(function (session) {
      if (state !== current) return;
      state.session = session;
      renderHeader(session);
      renderParticipants(session, state);
      loadSeries(state);
    }, function () { state.timer = setTimeout(function () { refresh(state); }, REFRESH_MS); });
  }

  function drawSeries(state, stats) {
    var xs = stats.map(function (b) { return ms(b.time) / 1000; });
    state.plots.forEach(function (p) {
      var spec = p.spec;
      var columns = spec.series.map(function (s) {
        return stats.map(function (b) {
          var v = s.get(b);
          return num(v) ? v / (spec.scale || 1) : null;
        });
      });
      p.plot.setData([xs].concat(columns));
      var statsEl = clear(p.statsEl);
      spec.series.forEach(function (s, i) {
        var known = columns[i].filter(num);
        var item = h('span', { class: 'series-stat', 'data-series': s.label },
          h('span', { class: 'swatch', style: { background: s.color } }), s.label + ' ');
        if (known.length) {
          item.appendChild(document.createTextNode('avg '));
          item.appendChild(h('b', { class: 'avg', text: fmt(mean(known), spec.digits) }));
          item.appendChild(document.createTextNode(' · max '));
          item.appendChild(h('b', { class: 'max', text: fmt(Math.max.apply(null, known), spec.digits) }));
        } else {
          item.appendChild(h('b', { class: 'avg', text: 'no data' }));
        }
        item.appendChild(h('b', { class: 'at' }));
        statsEl.appendChild(item);
      });
    });
  }

  function card(label, value, detail, cls) {
    return h('div', { class: 'card', 'data-card': cls || label },
      h('div', { class: 'label', text: label }),
      typeof value === 'string' ? h('div', { class: 'value', text: value }) : h('div', { class: 'value' }, value),
      detail ? h('div', { class: 'detail', text: detail }) : null);
  }

  // The cards read the session's series; the summary (if the server has it) adds the rest.
  function renderSessionCards(state, stats) {
    var cards = clear($('summary-cards'));
    var worst = null;
    stats.forEach(function (b) {
      var a = b.qualityScore && b.qualityScore.audio;
      if (num(a) && (worst === null || a < worst.score)) worst = { score: a, time: ms(b.time) };
    });
    var lost = 0;
    stats.forEach(function (b) { lost += (b.recvAudioPacketLost || 0) + (b.recvVideoPacketLost || 0); });
    var rtt = stats.map(function (b) { return b.averageAudioRtt; }).filter(num);
    var overall = state.averages[''] || {};
    cards.appendChild(card('Audio MOS (avg)', scoreEl('audio', overall.audio), 'E-model, 1 to 4.5', 'audio'));
    cards.appendChild(card('Video score (avg)', scoreEl('video', overall.video), 'G.1070, 1 to 5', 'video'));
    cards.appendChild(card('Worst audio', worst ? scoreEl('audio', worst.score) : '–',
      worst ? 'at ' + clock(worst.time) : '', 'worst'));
    cards.appendChild(card('Packets lost (recv)', String(lost), 'audio + video, all participants', 'lost'));
    cards.appendChild(card('RTT (avg / max)', rtt.length ? fmt(mean(rtt)) + ' / ' + fmt(Math.max.apply(null, rtt)) + ' ms' : '–', 'audio, round trip', 'rtt'));
    if (state.summary) addSummaryCards(state, state.summary);
  }

  function loadSummary(state, base) {
    api(base + '/summary').then(function (summary) {
      if (state !== current) return;
      state.summary = summary;
      addSummaryCards(state, summary);
      fillParticipantSummaries(state);
    }, function () { /* an older server, or a participant-bound token: the cards above stay */ });
  }

  function nameOf(state, pid) {
    var p = (state.session.participants || []).filter(function (x) { return x.participantId === pid; })[0];
    return (p && p.name) || pid;
  }

  function addSummaryCards(state, summary) {
    var s = summary.session || {};
    var cards = $('summary-cards');
    if (cards.querySelector('[data-card="cause"]')) return;
    var below = (s.secondsAudioBelow3_5 || 0);
    cards.appendChild(card('Audio below 3.5', duration(below * 1000),
      num(s.measuredSeconds) && s.measuredSeconds ? fmt(100 * below / s.measuredSeconds) + '% of measured time' : '', 'below'));
    if (s.worstAudioInterval) {
      var w = s.worstAudioInterval;
      var worstCard = cards.querySelector('[data-card="worst"] .detail');
      if (worstCard) worstCard.textContent = 'at ' + clock(ms(w.start)) + ', ' + nameOf(state, w.participantId);
      var value = cards.querySelector('[data-card="worst"] .value');
      if (value) clear(value).appendChild(scoreEl('audio', w.score));
    }
    cards.appendChild(card('Loss p95', s.lossPercent && num(s.lossPercent.p95) ? fmt(s.lossPercent.p95, 1) + ' %' : '–', 'received packets, per interval', 'loss'));
    cards.appendChild(card('Likely cause', s.likelyCause || (s.badSeconds ? 'unclear' : 'none'),
      s.badSeconds ? duration(s.badSeconds * 1000) + ' below the thresholds' : 'no interval below the thresholds', 'cause'));
  }

  function renderParticipants(session, state) {
    var body = clear($('participants-body'));
    var select = $('participant-select');
    var chosen = state.participant;
    clear(select).appendChild(h('option', { value: '', text: 'All participants' }));
    var b = sessionBounds(session);
    var span = b.end - b.start;
    var events = [];
    (session.participants || []).forEach(function (p) {
      var label = p.name || p.participantId;
      select.appendChild(h('option', { value: p.participantId, text: label }));
      var bar = h('div', { class: 'presence', title: 'presence from ' + clock(b.start) + ' to ' + clock(b.end) });
      (p.timelog || []).forEach(function (t) {
        var start = ms(t.start);
        var end = t.end ? ms(t.end) : b.end;
        bar.appendChild(h('span', { style: {
          left: (100 * (start - b.start) / span).toFixed(2) + '%',
          width: Math.max(0.5, 100 * (end - start) / span).toFixed(2) + '%' } }));
        events.push({ t: start, who: label, what: 'joined' });
        if (t.end) events.push({ t: end, who: label, what: 'left' });
      });
      var select_ = function () { choose(state, p.participantId); };
      body.appendChild(h('tr', { class: 'clickable' + (chosen === p.participantId ? ' selected' : ''), 'data-participant': p.participantId, onclick: select_ },
        h('td', { class: 'primary' }, label, h('span', { class: 'sub mono', text: p.participantId })),
        h('td', { class: 'presence-cell', 'data-label': 'Presence' }, bar),
        h('td', { 'data-label': 'Audio MOS', class: 'p-audio' }, scoreEl('audio', state.averages[p.participantId] && state.averages[p.participantId].audio)),
        h('td', { 'data-label': 'Video', class: 'p-video' }, scoreEl('video', state.averages[p.participantId] && state.averages[p.participantId].video)),
        h('td', { 'data-label': 'Loss p95', class: 'p-loss', text: '–' }),
        h('td', { 'data-label': 'RTT p95', class: 'p-rtt', text: '–' }),
        h('td', { 'data-label': 'Likely cause', class: 'p-cause', text: '–' })));
      if (!state.averages[p.participantId]) loadParticipantAverage(state, p.participantId);
    });
    select.value = chosen;
    fillParticipantSummaries(state);
    var list = clear($('events'));
    events.sort(function (x, y) { return x.t - y.t; });
    events.forEach(function (e) {
      list.appendChild(h('li', { class: e.what },
        h('time', { datetime: new Date(e.t).toISOString(), text: clock(e.t) }),
        h('span', { text: e.who + ' ' + e.what })));
    });
    if (!events.length) list.appendChild(h('li', { class: 'empty', text: 'No one yet.' }));
  }

  // Averages read one bucket per hour (the sessions list does the same, so the numbers agree);
  // pid '' is the whole session.
  function averageScores(stats) {
    return {
      audio: mean(stats.map(function (b) { return b.qualityScore && b.qualityScore.audio; })),
      video: mean(stats.map(function (b) { return b.qualityScore && b.qualityScore.video; })),
    };
  }

  function loadSessionAverage(state) {
    var path = 'v2/sessions/' + encodeURIComponent(state.sessionId) + '/stats?interval=3600';
    api(path).then(function (answer) {
      if (state !== current) return;
      var avg = state.averages[''] = averageScores(answer.stats);
      var cards = $('summary-cards');
      [['audio', avg.audio], ['video', avg.video]].forEach(function (kv) {
        var value = cards.querySelector('[data-card="' + kv[0] + '"] .value');
        if (value) clear(value).appendChild(scoreEl(kv[0], kv[1]));
      });
    }, function () {});
  }

  function loadParticipantAverage(state, pid) {
    state.averages[pid] = { audio: null, video: null };
    var path = 'v2/sessions/' + encodeURIComponent(state.sessionId) + '/participant/' + encodeURIComponent(pid) + '/stats?interval=3600';
    limited(function () { return api(path); }).then(function (answer) {
      if (state !== current) return;
      var avg = state.averages[pid] = averageScores(answer.stats);
      var row = rowOf(pid);
      if (!row) return;
      clear(row.querySelector('.p-audio')).appendChild(scoreEl('audio', avg.audio));
      clear(row.querySelector('.p-video')).appendChild(scoreEl('video', avg.video));
    }, function () {});
  }

  function rowOf(pid) {
    var rows = $('participants-body').querySelectorAll('tr');
    for (var i = 0; i < rows.length; i++) if (rows[i].getAttribute('data-participant') === pid) return rows[i];
    return null;
  }

  function fillParticipantSummaries(state) {
    if (!state.summary) return;
    (state.summary.participants || []).forEach(function (p) {
      var row = rowOf(p.participantId);
      if (!row) return;
      row.querySelector('.p-loss').textContent = p.lossPercent && num(p.lossPercent.p95) ? fmt(p.lossPercent.p95, 1) + ' %' : '–';
      row.querySelector('.p-rtt').textContent = p.rttMs && num(p.rttMs.p95) ? fmt(p.rttMs.p95) + ' ms' : '–';
      row.querySelector('.p-cause').textContent = p.likelyCause || (p.measuredSeconds ? 'none' : '–');
    });
  }

  function choose(state, pid) {
    state.participant = state.participant === pid ? '' : pid;
    $('participant-select').value = state.participant;
    var rows = $('participants-body').querySelectorAll('tr');
    for (var i = 0; i < rows.length; i++) rows[i].classList.toggle('selected', rows[i].getAttribute('data-participant') === state.participant);
    loadSeries(state);
    $('charts').scrollIntoView({ behavior: 'smooth', block: 'start' });
  }

  function downloadCsv(event) {
    event.preventDefault();
    if (!current) return;
    var state = current;
    api(seriesPath(state) + '&format=csv', true).then(function (text) {
      var url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
      var a = h('a', { href: url, download: state.sessionId + (state.participant ? '-' + state.participant : '') + '-stats.csv' });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
    }, function (err) { show($('session-error'), err.message); });
  }

  // ---- start ---------------------------------------------------------------------------

  function start() {
    if (typeof uPlot === 'undefined') {
      document.body.appendChild(h('p', { class: 'error notice', text: 'uPlot did not load (static/vendor/uplot).' }));
    }
    $('signin-form').addEventListener('submit', onSignIn);
    $('search-form').addEventListener('submit', onSearch);
    $('sign-out').addEventListener('click', function () { signOut(''); });
    $('participant-select').addEventListener('change', function (e) {
      if (current) { current.participant = ''; choose(current, e.target.value); }
    });
    $('interval-select').addEventListener('change', function () { if (current) loadSeries(current); });
    $('session-controls').addEventListener('submit', function (e) { e.preventDefault(); });
    $('csv-link').hidden = false;
    $('csv-link').addEventListener('click', downloadCsv);
    window.addEventListener('hashchange', route);
    route();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
