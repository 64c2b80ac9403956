// The session's charts over time, drawn with uPlot (vendored: static/vendor/uplot, MIT).
// Each chart has its own legend below it; hovering one chart moves the cursor on all.

import { clear, h } from './dom.js';
import { clock, fmt, isNum, mean } from './format.js';

const COLORS = { audio: '#2f6fdf', video: '#e8710a', audio2: '#7aa7f0', video2: '#f3b26b' };

// Each chart: series read from the stats entries, a unit, decimals, and a scale divisor.
// The quality chart's legend shows the server's average (qualityScore of the session or of the
// participant: the number of the summary card and the tables), not a mean of its buckets.
export const CHARTS = [
  { key: 'quality', title: 'Quality score', unit: 'MOS', digits: 2, range: [1, 5], series: [
    { label: 'Audio MOS', kind: 'audio', color: COLORS.audio, get: (b) => b.qualityScore && b.qualityScore.audio },
    { label: 'Video', kind: 'video', color: COLORS.video, get: (b) => b.qualityScore && b.qualityScore.video }] },
  { key: 'loss', title: 'Packets lost', unit: 'packets', digits: 0, series: [
    { label: 'Recv audio', color: COLORS.audio, get: (b) => b.recvAudioPacketLost },
    { label: 'Recv video', color: COLORS.video, get: (b) => b.recvVideoPacketLost },
    { label: 'Send audio', color: COLORS.audio2, get: (b) => b.sendAudioPacketLost },
    { label: 'Send video', color: COLORS.video2, get: (b) => b.sendVideoPacketLost }] },
  { key: 'rtt', title: 'Round-trip time', unit: 'ms', digits: 0, series: [
    { label: 'Audio', color: COLORS.audio, get: (b) => b.averageAudioRtt },
    { label: 'Video', color: COLORS.video, get: (b) => b.averageVideoRtt }] },
  { key: 'jitter', title: 'Jitter', unit: 'ms', digits: 1, series: [
    { label: 'Audio', color: COLORS.audio, get: (b) => b.averageAudioJitter },
    { label: 'Video', color: COLORS.video, get: (b) => b.averageVideoJitter }] },
  { key: 'video-bitrate', title: 'Video bitrate', unit: 'kbit/s', digits: 0, scale: 1000, series: [
    { label: 'Send', color: COLORS.video, get: (b) => b.averageSendVideoBitrate },
    { label: 'Recv', color: COLORS.video2, get: (b) => b.averageRecvVideoBitrate }] },
  { key: 'audio-bitrate', title: 'Audio bitrate', unit: 'kbit/s', digits: 1, scale: 1000, series: [
    { label: 'Send', color: COLORS.audio, get: (b) => b.averageSendAudioBitrate },
    { label: 'Recv', color: COLORS.audio2, get: (b) => b.averageRecvAudioBitrate }] },
];

/** uPlot from its vendored script (loaded before the modules), or null. */
export function uPlotLoaded() {
  return typeof globalThis.uPlot === 'function' ? globalThis.uPlot : null;
}

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function plotSize(el) {
  const width = Math.max(240, Math.floor(el.clientWidth));
  return { width, height: width < 500 ? 170 : 200 };
}

// Tick labels as wall-clock times; seconds only when the ticks are less than a minute apart.
function timeTicks(u, ticks) {
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : 60;
  const two = (n) => String(n).padStart(2, '0');
  return ticks.map((t) => {
    const d = new Date(t * 1000);
    const hm = `${two(d.getHours())}:${two(d.getMinutes())}`;
    return step < 60 ? `${hm}:${two(d.getSeconds())}` : hm;
  });
}

// As many decimals as the tick step needs (0.5 ms ticks read 0.5, not 1).
function valueTicks(u, ticks) {
  const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : 1;
  const digits = step >= 1 ? 0 : Math.min(3, Math.ceil(-Math.log10(step) - 1e-9));
  return ticks.map((t) => fmt(t, digits));
}

function legendItem(series, ...parts) {
  return h('span', { class: 'series-stat', 'data-series': series.label },
    h('span', { class: 'swatch', style: { background: series.color } }), `${series.label}: `,
    ...parts, h('b', { class: 'at' }));
}

/** The legend of one chart: the server's average for scores, else the mean and max of the points. */
function fillLegend(chart, columns, averages, scope) {
  const { spec, statsEl } = chart;
  clear(statsEl);
  spec.series.forEach((s, i) => {
    const known = columns[i].filter(isNum);
    if (!known.length) {
      statsEl.append(legendItem(s, h('b', { class: 'avg', text: 'no data' })));
    } else if (s.kind) {
      statsEl.append(legendItem(s, `${scope} avg `,
        h('b', { class: 'avg', title: `qualityScore.${s.kind} of the ${scope}`, text: fmt(averages[s.kind], spec.digits) }),
        ' · lowest point ', h('b', { class: 'min', text: fmt(Math.min(...known), spec.digits) })));
    } else {
      statsEl.append(legendItem(s, 'mean of points ',
        h('b', { class: 'mean', text: fmt(mean(known), spec.digits) }),
        ' · max ', h('b', { class: 'max', text: fmt(Math.max(...known), spec.digits) })));
    }
  });
}

/** Hovering: each legend shows the values under the cursor. */
function showCursor(chart, u) {
  const idx = u.cursor.idx;
  const t = idx == null ? null : u.data[0][idx];
  chart.statsEl.querySelectorAll('.at').forEach((span, i) => {
    const v = idx == null ? null : u.data[i + 1][idx];
    span.textContent = t == null ? '' : ` · ${clock(t * 1000)} ${v == null ? '–' : fmt(v, chart.spec.digits)}`;
  });
}

function newPlot(UPlot, spec, plotEl, syncKey, onCursor) {
  const axis = { stroke: cssVar('--muted'), grid: { stroke: cssVar('--grid'), width: 1 }, ticks: { stroke: cssVar('--grid') } };
  const yRange = spec.range
    ? { range: spec.range }
    : { range: (u, min, max) => [0, Math.max(max || 0, spec.key === 'loss' ? 5 : 1) * 1.1] };
  const opts = {
    ...plotSize(plotEl),
    cursor: { sync: { key: syncKey }, drag: { x: true, y: false } },
    legend: { show: false },  // our own legend below the chart
    hooks: { setCursor: [onCursor] },
    scales: { x: { time: true }, y: yRange },
    axes: [{ ...axis, space: 50, values: timeTicks }, { ...axis, size: 52, values: valueTicks }],
    series: [{ label: 'Time', value: (u, t) => (t == null ? '–' : clock(t * 1000)) }].concat(spec.series.map((s) => ({
      label: s.label, stroke: s.color, width: 2, spanGaps: false, points: { show: false },
      value: (u, v) => (v == null ? '–' : fmt(v, spec.digits)),
    }))),
  };
  return new UPlot(opts, [[], ...spec.series.map(() => [])], plotEl);
}

/** The charts of one session in container; returns {draw(stats, averages, scope), destroy()}. */
export function createCharts(container, syncKey) {
  const UPlot = uPlotLoaded();
  clear(container);
  const charts = [];
  for (const spec of CHARTS) {
    const plotEl = h('div', { class: 'plot' });
    const statsEl = h('div', { class: 'chart-stats' });
    container.append(h('figure', { class: 'chart', 'data-chart': spec.key },
      h('figcaption', null, `${spec.title} `, h('small', { text: spec.unit })), plotEl, statsEl));
    const chart = { spec, plotEl, statsEl, plot: null };
    if (UPlot) chart.plot = newPlot(UPlot, spec, plotEl, syncKey, (u) => showCursor(chart, u));
    charts.push(chart);
  }
  const resize = typeof ResizeObserver === 'function'
    ? new ResizeObserver(() => charts.forEach((c) => c.plot && c.plot.setSize(plotSize(c.plotEl))))
    : null;
  if (resize) charts.forEach((c) => resize.observe(c.plotEl));

  return {
    /** Plot the stats entries; averages is {audio, video} of scope ('session' or 'participant'). */
    draw(stats, averages, scope) {
      const xs = stats.map((b) => Date.parse(b.time) / 1000);
      for (const chart of charts) {
        const { spec } = chart;
        const columns = spec.series.map((s) => stats.map((b) => {
          const v = s.get(b);
          return isNum(v) ? v / (spec.scale || 1) : null;
        }));
        if (chart.plot) chart.plot.setData([xs, ...columns]);
        fillLegend(chart, columns, averages, scope);
      }
    },
    destroy() {
      if (resize) resize.disconnect();
      charts.forEach((c) => c.plot && c.plot.destroy());
    },
  };
}
