// The few DOM helpers the views share. Server data always goes in as text, never as HTML.

import { band, fmt } from './format.js';

/** The element of an id. */
export function $(id) {
  return document.getElementById(id);
}

/**
 * A new element: h('a', {href, text, class, onclick, style}, ...children). Attributes that are
 * null, undefined or false are left out; `text` sets textContent.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'text') el.textContent = v;
    else if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'style') Object.assign(el.style, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    el.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return el;
}

/** Remove every child of el; returns el. */
export function clear(el) {
  el.replaceChildren();
  return el;
}

/** Show a message in el, or hide el when the message is empty. */
export function show(el, message) {
  el.textContent = message || '';
  el.hidden = !message;
}

/** Replace el's content with nodes (text or elements). */
export function fill(el, ...nodes) {
  el.replaceChildren(...nodes.filter((n) => n !== null && n !== undefined));
  return el;
}

/** Tell screen readers what changed (the page's one polite live region). */
export function announce(message) {
  $('status').textContent = message || '';
}

/** A score as the dashboard prints it (two decimals), coloured by its band. */
export function scoreEl(kind, v) {
  return h('span', { class: `score ${band(kind, v)}`, text: fmt(v, 2) });
}
