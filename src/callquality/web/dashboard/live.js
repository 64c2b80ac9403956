// The live view of an ongoing session (docs/webhooks.md, "Live view"): Server-Sent Events
// of its new intervals. EventSource cannot send the token, which stays out of URLs, so the
// token buys a short-lived ticket (POST .../live/ticket) and the ticket opens the stream.
// Refused (no ticket, a 401/404, a proxy that will not stream) or lost for good, the caller
// is told and falls back to polling.

import * as api from './api.js';

const MAX_OPENS = 3;  // tickets asked for before giving up on the stream

/**
 * Subscribe to a session's live stream. `onChange` is called (at most every `settleMs`) after
 * new intervals arrive, `onEnded` once the session has ended, `onRefused` when the stream
 * cannot be had. Returns {close}.
 */
export function subscribe(sessionId, { onChange, onEnded, onRefused, settleMs = 250 }) {
  let source = null;
  let closed = false;
  let opens = 0;
  let pending = null;

  function close() {
    closed = true;
    clearTimeout(pending);
    if (source) source.close();
    source = null;
  }

  function changed() {
    if (pending === null) {
      pending = setTimeout(() => {
        pending = null;
        if (!closed) onChange();
      }, settleMs);
    }
  }

  async function open() {
    if (closed) return;
    opens += 1;
    let ticket;
    try {
      ticket = await api.post(api.paths.liveTicket(sessionId));
    } catch (_) {
      if (!closed) { close(); onRefused(); }
      return;
    }
    if (closed) return;
    source = new EventSource(api.paths.live(sessionId, ticket.ticket));
    source.addEventListener('interval', changed);
    source.addEventListener('ended', () => {
      close();
      onEnded();
    });
    source.onerror = () => {
      // CONNECTING: the browser retries by itself. CLOSED: refused (its ticket expired, a
      // 401, not an event stream): a new ticket, a few times, then polling.
      if (closed || source.readyState !== EventSource.CLOSED) return;
      source = null;
      if (opens < MAX_OPENS) open();
      else { close(); onRefused(); }
    };
  }

  open();
  return { close };
}
