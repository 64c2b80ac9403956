// The session's summary cards. The averages are the session's qualityScore (the number the
// sessions list and the quality chart's legend show); the rest reads the series and the
// server's summary (GET /v2/sessions/{id}/summary, docs/metrics.md "Session summary").

import { $, clear, fill, h, scoreEl } from '../dom.js';
import { causeText, clock, duration, fmt, isNum, mean, ms, qualityOf } from '../format.js';

/** Set a card's label, value and detail, creating it (appended in call order) the first time. */
function setCard(key, label, value, detail) {
  const cards = $('summary-cards');
  let card = cards.querySelector(`[data-card="${key}"]`);
  if (!card) {
    card = h('div', { class: 'card', 'data-card': key },
      h('div', { class: 'label' }), h('div', { class: 'value' }), h('div', { class: 'detail' }));
    cards.append(card);
  }
  card.querySelector('.label').textContent = label;
  fill(card.querySelector('.value'), value);
  card.querySelector('.detail').textContent = detail || '';
}

/** Empty the cards (a new session). */
export function reset() {
  clear($('summary-cards'));
}

/**
 * All the cards from what has loaded so far: session (GET /v2/sessions/{id}), stats (the
 * session's series, or null before it arrives), summary (or null before it arrives).
 */
export function render(session, stats, summary, nameOf) {
  const avg = qualityOf(session);
  setCard('audio', 'Audio MOS (avg)', scoreEl('audio', avg.audio), 'E-model, 1 to 4.5: the session average');
  setCard('video', 'Video score (avg)', scoreEl('video', avg.video), 'G.1070, 1 to 5: the session average');
  renderSeriesCards(stats || [], summary && summary.session, nameOf);
  if (summary) renderSummaryCards(summary.session || {});
}

function renderSeriesCards(stats, s, nameOf) {
  // The worst interval: the server's (one participant's interval) once the summary is here,
  // until then the lowest bucket of the series.
  if (s && s.worstAudioInterval) {
    const w = s.worstAudioInterval;
    setCard('worst', 'Worst audio', scoreEl('audio', w.score), `at ${clock(ms(w.start))}, ${nameOf(w.participantId)}`);
  } else {
    let worst = null;
    for (const b of stats) {
      const a = b.qualityScore && b.qualityScore.audio;
      if (isNum(a) && (worst === null || a < worst.score)) worst = { score: a, time: ms(b.time) };
    }
    setCard('worst', 'Worst audio', worst ? scoreEl('audio', worst.score) : '–', worst ? `at ${clock(worst.time)}` : '');
  }
  let lost = 0;
  for (const b of stats) lost += (b.recvAudioPacketLost || 0) + (b.recvVideoPacketLost || 0);
  setCard('lost', 'Packets lost (recv)', String(lost), 'audio + video, all participants');
  const rtt = stats.map((b) => b.averageAudioRtt).filter(isNum);
  setCard('rtt', 'RTT (mean / max)',
    rtt.length ? `${fmt(mean(rtt))} / ${fmt(Math.max(...rtt))} ms` : '–', 'audio round trip, of the chart\'s points');
}

function renderSummaryCards(s) {
  const below = s.secondsAudioBelow3_5 || 0;
  const measured = s.measuredSeconds || 0;
  // Seconds summed over participants (four people for ten minutes measure 40 min), so it is
  // labelled as participant time, not as a stretch of the call.
  setCard('below', 'Audio below 3.5', duration(below * 1000),
    measured ? `participant time: ${fmt(100 * below / measured)}% of ${duration(measured * 1000)} measured` : 'participant time');
  setCard('loss', 'Loss p95',
    s.lossPercent && isNum(s.lossPercent.p95) ? `${fmt(s.lossPercent.p95, 1)} %` : '–', 'received packets, per interval');
  setCard('cause', 'Likely cause', causeText(s),
    s.badSeconds ? `${duration(s.badSeconds * 1000)} of participant time below the thresholds` : 'no interval below the thresholds');
}
