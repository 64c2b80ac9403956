/*! callquality collector: samples RTCPeerConnection.getStats() and sends the raw reports
 * to a callquality server (POST {endpoint}/v2/stats). Plain ES2017, no dependencies.
 * Usage and options: docs/collector.md. It never throws into the host page.
 */
(function (global) {
  'use strict';

  var VERSION = '0.1.0';
  var DEFAULTS = {
    intervalMs: 5000,        // how often getStats() is sampled
    maxQueue: 360,           // reports kept while the server is unreachable (30 min at 5 s)
    maxBatchItems: 60,       // reports per request when draining a backlog
    maxBatchBytes: 1000000,  // and bytes per request (the server's default limit is 5 MiB)
    backoffMs: 1000,         // first retry delay; doubles per failure, with jitter
    maxBackoffMs: 60000,
    timeoutMs: 15000,        // a request that hangs longer is a failure
    // Stats the server does not read. Certificates are large and constant; candidates
    // (local-candidate, remote-candidate) carry IP addresses: add them here to keep those.
    excludeTypes: ['certificate'],
  };
  // fetch(keepalive) allows 64 KiB of bodies in flight per page, shared by all monitors;
  // stay under it with some headroom.
  var KEEPALIVE_BYTES = 60000;
  var keepaliveInFlight = 0;
  var live = new Set();  // the monitors that may still send, for the page-exit flush
  var encoder = typeof TextEncoder === 'function' ? new TextEncoder() : null;

  function byteLength(text) {
    return encoder ? encoder.encode(text).length : text.length * 3;
  }

  function warn(message, error) {
    try {
      if (global.console && console.warn) console.warn('[callquality] ' + message, error || '');
    } catch (_) { /* a console that throws must not break the page */ }
  }

  function randomId() {
    try {
      if (global.crypto && typeof crypto.randomUUID === 'function') return 'pc-' + crypto.randomUUID();
    } catch (_) { /* insecure context: fall through */ }
    return 'pc-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10);
  }

  // Who sends (the item's `client`, docs/api.md "Client info"): the browser's user agent and
  // UA client hints, this collector as the SDK, the host app if it says. The hints' full
  // versions come later (a promise): reports from then on carry them.
  function clientInfo(options) {
    var nav = global.navigator || {};
    var client = { sdkName: 'callquality-collector', sdkVersion: VERSION };
    if (typeof nav.userAgent === 'string') client.userAgent = nav.userAgent.slice(0, 1024);
    if (options.appName) client.appName = String(options.appName).slice(0, 128);
    if (options.appVersion) client.appVersion = String(options.appVersion).slice(0, 64);
    if (nav.connection && /^[A-Za-z0-9_.-]{1,32}$/.test(nav.connection.type)) client.networkType = nav.connection.type;
    var hints = nav.userAgentData;
    if (!hints || !Array.isArray(hints.brands)) return client;
    client.userAgentData = { brands: hints.brands, mobile: !!hints.mobile, platform: String(hints.platform || '') };
    if (typeof hints.getHighEntropyValues === 'function') {
      hints.getHighEntropyValues(['fullVersionList', 'platformVersion', 'model']).then(function (v) {
        ['fullVersionList', 'platformVersion', 'model'].forEach(function (k) { if (v[k] !== undefined) client.userAgentData[k] = v[k]; });
      }, function () { /* the browser declined: the low-entropy hints stay */ });
    }
    return client;
  }

  function retryAfterMs(response) {
    var value = response.headers.get('Retry-After');
    if (!value) return null;
    var seconds = Number(value);
    if (isFinite(seconds)) return Math.max(0, seconds * 1000);
    var at = Date.parse(value);  // an HTTP date
    return isFinite(at) ? Math.max(0, at - Date.now()) : null;
  }

  function inertHandle(reason) {
    var stats = { sent: 0, queued: 0, dropped: 0, failures: 0, rejected: 0, stopped: true,
                  peerConnectionId: null, lastError: reason };
    return {
      stop: function () {},
      flush: function () { return Promise.resolve(Object.assign({}, stats)); },
      stats: function () { return Object.assign({}, stats); },
    };
  }

  /** Start monitoring one RTCPeerConnection; returns {stop, flush, stats}. */
  function monitor(pc, options) {
    try {
      return createMonitor(pc, options || {});
    } catch (error) {
      warn('monitor() could not start', error);
      return inertHandle(String(error && error.message || error));
    }
  }

  function createMonitor(pc, options) {
    if (!pc || typeof pc.getStats !== 'function') throw new Error('the first argument must be an RTCPeerConnection');
    var o = {};
    Object.keys(DEFAULTS).forEach(function (k) { o[k] = options[k] !== undefined ? options[k] : DEFAULTS[k]; });
    ['roomId', 'participantId'].forEach(function (k) {
      if (typeof options[k] !== 'string' || !options[k]) throw new Error('options.' + k + ' is required');
    });
    if (!options.token) throw new Error('options.token is required (an rtc-role token)');
    var endpoint = String(options.endpoint || '').replace(/\/+$/, '');
    var url = endpoint + '/v2/stats';
    var intervalMs = Math.max(250, Number(o.intervalMs) || DEFAULTS.intervalMs);
    var excluded = new Set(o.excludeTypes || []);
    var base = { roomId: options.roomId, participantId: options.participantId };
    if (options.participantName) base.participantName = String(options.participantName);
    if (options.sessionId) base.sessionId = String(options.sessionId);
    if (options.customRoomId) base.customRoomId = String(options.customRoomId);
    base.peerConnectionId = options.peerConnectionId ? String(options.peerConnectionId) : randomId();
    base.client = clientInfo(options);

    var queue = [];            // [{json, bytes, inflight}], oldest first
    var counters = { sent: 0, dropped: 0, failures: 0, rejected: 0 };
    var stopped = false;       // no more sampling
    var closed = false;        // nothing more is sent at all
    var sending = false;
    var attempt = 0;           // consecutive failures, for the backoff
    var sampleTimer = null;
    var retryTimer = null;
    var lastError = null;
    var waiters = [];          // flush() promises

    function token() {
      return Promise.resolve(typeof options.token === 'function' ? options.token() : options.token);
    }

    function snapshot() {
      return {
        sent: counters.sent, queued: queue.length, dropped: counters.dropped,
        failures: counters.failures, rejected: counters.rejected, stopped: stopped,
        peerConnectionId: base.peerConnectionId, lastError: lastError,
      };
    }

    function settleWaiters() {
      if (sending || (queue.length && !closed && retryTimer === null && !stopped)) return;
      var done = waiters;
      waiters = [];
      done.forEach(function (resolve) { resolve(snapshot()); });
    }

    function isClosed() {
      return pc.connectionState === 'closed' || pc.signalingState === 'closed';
    }

    function enqueue(item) {
      var json = JSON.stringify(item);
      queue.push({ json: json, bytes: byteLength(json), inflight: false });
      // Counters are cumulative, so the server still gets the totals across dropped reports:
      // the next report kept is differenced against the last one it stored.
      while (queue.length > o.maxQueue) {
        queue.shift();
        counters.dropped += 1;
      }
    }

    function sample() {
      sampleTimer = null;
      if (stopped) return;
      if (isClosed()) { onClose(); return; }
      var timestamp = Date.now();
      pc.getStats().then(function (report) {
        if (stopped) return;
        var stats = [];
        report.forEach(function (s) { if (!excluded.has(s.type)) stats.push(s); });
        var item = Object.assign({}, base, { timestamp: timestamp, report: stats });
        enqueue(item);
        pump();
      }).catch(function (error) {
        lastError = 'getStats: ' + (error && error.message || error);
        if (isClosed()) onClose();
      }).then(schedule, schedule);
    }

    function schedule() {
      if (!stopped && sampleTimer === null) sampleTimer = setTimeout(sample, intervalMs);
    }

    function takeBatch(limitBytes, limitItems, newestFirst) {
      var batch = [];
      var bytes = 2;
      var i = newestFirst ? queue.length - 1 : 0;
      while (i >= 0 && i < queue.length && batch.length < limitItems) {
        var entry = queue[i];
        if (entry.inflight) { i += newestFirst ? -1 : 1; continue; }
        if (batch.length && bytes + entry.bytes + 1 > limitBytes) break;
        if (!batch.length && entry.bytes + 2 > limitBytes) { i += newestFirst ? -1 : 1; continue; }
        batch.push(entry);
        bytes += entry.bytes + 1;
        i += newestFirst ? -1 : 1;
      }
      if (newestFirst) batch.reverse();
      return batch;
    }

    function body(batch) {
      return '[' + batch.map(function (e) { return e.json; }).join(',') + ']';
    }

    function remove(batch) {
      var gone = new Set(batch);
      queue = queue.filter(function (e) { return !gone.has(e); });
    }

    function post(batch, keepalive) {
      return token().then(function (tok) {
        var controller = typeof AbortController === 'function' ? new AbortController() : null;
        var timer = controller && !keepalive ? setTimeout(function () { controller.abort(); }, o.timeoutMs) : null;
        return fetch(url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'Authorization': String(tok) },
          body: body(batch),
          keepalive: !!keepalive,
          credentials: 'omit',
          mode: 'cors',
          signal: controller && !keepalive ? controller.signal : undefined,
        }).then(function (response) {
          if (timer) clearTimeout(timer);
          return response;
        }, function (error) {
          if (timer) clearTimeout(timer);
          throw error;
        });
      });
    }

    // Send the oldest reports; on success go on until the queue is empty.
    function pump() {
      if (stopped && !sending && !queue.length) finish();
      if (sending || closed || retryTimer !== null || !queue.length) { settleWaiters(); return; }
      var batch = takeBatch(o.maxBatchBytes, o.maxBatchItems, false);
      if (!batch.length) {  // a single report larger than a request may be
        var big = queue.shift();
        counters.dropped += 1;
        counters.rejected += 1;
        lastError = 'a report of ' + big.bytes + ' bytes is larger than maxBatchBytes';
        pump();
        return;
      }
      sending = true;
      batch.forEach(function (e) { e.inflight = true; });
      post(batch, false).then(function (response) {
        sending = false;
        batch.forEach(function (e) { e.inflight = false; });
        if (response.ok) {
          attempt = 0;
          counters.sent += batch.length;
          remove(batch);
          lastError = null;
        } else if (response.status === 429 || response.status >= 500) {
          counters.failures += 1;
          lastError = 'HTTP ' + response.status;
          backoff(retryAfterMs(response));
        } else {
          // 400/401/403/413: sending the same batch again cannot succeed.
          counters.failures += 1;
          counters.rejected += batch.length;
          counters.dropped += batch.length;
          remove(batch);
          lastError = 'HTTP ' + response.status + ' (batch dropped)';
          response.text().then(function (text) { warn('the server rejected a batch: ' + text); },
                               function () {});
        }
        pump();
      }, function (error) {
        sending = false;
        batch.forEach(function (e) { e.inflight = false; });
        counters.failures += 1;
        lastError = 'network: ' + (error && error.message || error);
        backoff(null);
        pump();
      });
    }

    function backoff(serverDelayMs) {
      if (closed) return;
      attempt += 1;
      var delay = Math.min(o.maxBackoffMs, o.backoffMs * Math.pow(2, attempt - 1));
      delay = delay / 2 + Math.random() * delay / 2;  // jitter: clients do not retry in step
      if (serverDelayMs !== null) delay = Math.max(serverDelayMs, Math.min(delay, o.maxBackoffMs));
      retryTimer = setTimeout(function () { retryTimer = null; pump(); }, delay);
      settleWaiters();
    }

    // The page is going away: one keepalive request with the newest reports that fit in this
    // monitor's share. Counters are cumulative, so the newest report carries the totals of
    // the reports it skips.
    function flushOnExit(limitBytes) {
      if (closed || !queue.length) return;
      var batch = takeBatch(limitBytes, o.maxBatchItems, true);
      if (!batch.length) return;
      var bytes = batch.reduce(function (n, e) { return n + e.bytes + 1; }, 2);
      remove(batch);
      keepaliveInFlight += bytes;
      post(batch, true).then(function (response) {
        keepaliveInFlight -= bytes;
        if (response.ok) counters.sent += batch.length;
        else { counters.dropped += batch.length; counters.failures += 1; }
      }, function () {
        keepaliveInFlight -= bytes;
        counters.dropped += batch.length;
        counters.failures += 1;
      });
    }

    function onConnectionState() { if (isClosed()) onClose(); }

    // No more sampling: timers and the connection's listeners go.
    function detach() {
      if (sampleTimer !== null) clearTimeout(sampleTimer);
      sampleTimer = null;
      try {
        pc.removeEventListener('connectionstatechange', onConnectionState);
        pc.removeEventListener('signalingstatechange', onConnectionState);
        if (pc.close === wrappedClose) pc.close = originalClose;
      } catch (_) { /* nothing to undo */ }
    }

    // Nothing more to send: the page's listeners go too.
    function finish() {
      closed = true;
      if (retryTimer !== null) clearTimeout(retryTimer);
      retryTimer = null;
      live.delete(liveEntry);
    }

    // The connection closed: no new samples. Reports measured before are still sent (with
    // retries, as ever); once the queue is empty the monitor sends nothing more.
    function onClose() {
      if (stopped) return;
      stopped = true;
      detach();
      pump();
    }

    // pc.close() fires no event (W3C webrtc-pc §4.4.1.2 close: "no events fire"), so the call
    // itself is observed; the original close runs first and unchanged.
    var originalClose = pc.close;
    var wrappedClose = function () {
      var result = originalClose.apply(this, arguments);
      try { onClose(); } catch (error) { warn('stopping after close failed', error); }
      return result;
    };
    try { pc.close = wrappedClose; } catch (_) { /* a frozen object: the state check remains */ }

    pc.addEventListener('connectionstatechange', onConnectionState);
    pc.addEventListener('signalingstatechange', onConnectionState);
    var liveEntry = { queued: function () { return closed ? 0 : queue.length; }, flushOnExit: flushOnExit };
    live.add(liveEntry);
    sampleTimer = setTimeout(sample, 0);  // a first report now: the server's baseline

    return {
      /** Stop sampling and sending; queued reports are discarded (flush() first to send them). */
      stop: function () {
        try {
          stopped = true;
          detach();
          finish();
          settleWaiters();
        } catch (error) { warn('stop failed', error); }
      },
      /** Send the queue now (skipping a backoff wait); resolves with stats() when it settles. */
      flush: function () {
        try {
          return new Promise(function (resolve) {
            waiters.push(resolve);
            if (retryTimer !== null && !closed) {
              clearTimeout(retryTimer);
              retryTimer = null;
            }
            pump();
          });
        } catch (error) {
          warn('flush failed', error);
          return Promise.resolve(snapshot());
        }
      },
      /** {sent, queued, dropped, failures, rejected, stopped, peerConnectionId, lastError} */
      stats: function () { return snapshot(); },
    };
  }

  // One listener for all monitors: the keepalive budget is shared equally among the monitors
  // that have something queued.
  function onPageExit() {
    try {
      var waiting = [];
      live.forEach(function (m) { if (m.queued()) waiting.push(m); });
      if (!waiting.length) return;
      var share = Math.floor((KEEPALIVE_BYTES - keepaliveInFlight) / waiting.length);
      if (share < 1024) return;
      waiting.forEach(function (m) { m.flushOnExit(share); });
    } catch (error) {
      warn('flush on page exit failed', error);
    }
  }
  if (global.addEventListener) global.addEventListener('pagehide', onPageExit);
  if (global.document) {
    document.addEventListener('visibilitychange', function () {
      if (document.visibilityState === 'hidden') onPageExit();
    });
  }

  var api = global.callquality || {};
  api.monitor = monitor;
  api.version = VERSION;
  global.callquality = api;
})(typeof globalThis !== 'undefined' ? globalThis : (typeof self !== 'undefined' ? self : this));
