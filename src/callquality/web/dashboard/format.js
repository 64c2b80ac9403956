// Numbers, times and score bands as the dashboard prints them. Pure functions, no DOM.

/** A finite number (null, undefined and NaN are "no data"). */
export function isNum(v) {
  return typeof v === 'number' && Number.isFinite(v);
}

/** v with `digits` decimals, or an en dash when there is no value. */
export function fmt(v, digits = 0) {
  return isNum(v) ? v.toFixed(digits) : '–';
}

/** The mean of the known values, or null when there are none. */
export function mean(values) {
  const known = values.filter(isNum);
  return known.length ? known.reduce((a, b) => a + b, 0) / known.length : null;
}

/** Epoch milliseconds of an ISO 8601 time, or null. */
export function ms(iso) {
  return iso ? Date.parse(iso) : null;
}

/** A wall-clock time (hh:mm:ss) in the viewer's locale. */
export function clock(t) {
  return new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** A date and time to the minute, in the viewer's locale. */
export function dateTime(t) {
  return new Date(t).toLocaleString([], {
    year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
  });
}

/** A date and time to the second (a delivery log's attempts are seconds apart). */
export function dateTimeSeconds(t) {
  return new Date(t).toLocaleString([], {
    month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
}

/** A duration in milliseconds as "42 s", "3 min 5 s" or "1 h 20 min". */
export function duration(durationMs) {
  if (!isNum(durationMs) || durationMs < 0) return '–';
  const s = Math.round(durationMs / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

// Colour bands. Audio: G.107 Annex B (R 80 ≈ MOS 4.03 "satisfied", R 70 ≈ 3.6 "some users
// dissatisfied", R 60 ≈ 3.1 "many"). Video: the 5-point ACR scale of P.910 (4 good, 3 fair).
const CUTS = { audio: [4.03, 3.6, 3.1], video: [4.0, 3.5, 3.0] };

/** 'good', 'fair', 'poor', 'bad', or 'none' when there is no score. */
export function band(kind, v) {
  if (!isNum(v)) return 'none';
  const [good, fair, poor] = CUTS[kind];
  return v >= good ? 'good' : v >= fair ? 'fair' : v >= poor ? 'poor' : 'bad';
}

/** The average scores of a session or participant object ({audio, video}, each may be null). */
export function qualityOf(obj) {
  const q = (obj && obj.qualityScore) || {};
  return { audio: isNum(q.audio) ? q.audio : null, video: isNum(q.video) ? q.video : null };
}

/**
 * The likely cause of a summary (the session's or a participant's), by one rule everywhere:
 * the server's cause; 'unclear' when some time was below the thresholds but no cause showed;
 * 'none' when nothing was below them; a dash when nothing was measured.
 */
export function causeText(summary) {
  if (!summary) return '–';
  if (summary.likelyCause) return summary.likelyCause;
  if (summary.badSeconds) return 'unclear';
  return summary.measuredSeconds ? 'none' : '–';
}
