/*! callquality collector: samples RTCPeerConnection.getStats() and sends the raw reports
 * to a callquality server (POST {endpoint}/v2/stats). Plain ES2017, no dependencies.
 * Usage and options: docs/collector.md. It never throws into the host page.
 *
 * One file, one <script> tag, in five parts that only meet in monitor():
 *   queue      the reports waiting to be sent, oldest first, bounded
 *   transport  one POST of a batch: token, timeout, what the answer means, backoff
 *   sender     drains a queue through a transport, retrying; flush() waiters
 *   lifecycle  a peer connection closing, and the page going away (keepalive budget)
 *   monitor    samples getStats() into a queue and wires the parts together
 * and the fields table (what the server reads of each stats type: only that is sent).
 */
(function (global) {
  'use strict';

  // The package's version (pyproject.toml, callquality.__version__); a test keeps them equal.
  var VERSION = '0.1.0';
  var DEFAULTS = {
    intervalMs: 5000,        // how often getStats() is sampled
    maxQueue: 360,           // reports kept while the server is unreachable (30 min at 5 s)
    maxBatchItems: 60,       // reports per request when draining a backlog
    maxBatchBytes: 1000000,  // and bytes per request (the server's default limit is 5 MiB)
    backoffMs: 1000,         // first retry delay; doubles per failure, with jitter
    maxBackoffMs: 60000,
    timeoutMs: 15000,        // a request that hangs longer is a failure
    // 'read': only the stats types and fields the server reads (READ_FIELDS, below), a
    // quarter of the bytes; 'all': the whole report but excludeTypes.
    fields: 'read',
    // With fields 'all', the stats types left out. Certificates are large and constant;
    // candidates (local-candidate, remote-candidate) carry IP addresses: add them to drop those.
    excludeTypes: ['certificate'],
  };

  // ---- fields: what the server reads ----------------------------------------------------

  // The fields the server reads of each stats type (callquality/ingest/read_fields.py, whose
  // READ_FIELDS_VERSION this is; tests/ingest/test_read_fields.py keeps the two tables equal).
  // Types not listed (certificates, remote candidates, playout...) are never read; of the
  // local candidate only its type, protocol and network type, never its address.
  var READ_FIELDS_VERSION = 3;
  var READ_FIELDS = {
    'inbound-rtp': ['id', 'type', 'kind', 'mediaType', 'ssrc', 'codecId', 'trackId',
      'mediaSourceId', 'localId', 'isRemote', 'qualityLimitationReason', 'timestamp',
      'packetsReceived', 'bytesReceived', 'packetsLost', 'jitter', 'framesDecoded', 'frameWidth',
      'frameHeight', 'framesPerSecond', 'freezeCount', 'totalFreezesDuration', 'concealedSamples',
      'silentConcealedSamples', 'totalSamplesReceived', 'totalAudioEnergy', 'totalSamplesDuration',
      'roundTripTime', 'totalRoundTripTime', 'roundTripTimeMeasurements', 'mozRtt'],
    'outbound-rtp': ['id', 'type', 'kind', 'mediaType', 'ssrc', 'codecId', 'trackId',
      'mediaSourceId', 'localId', 'isRemote', 'qualityLimitationReason', 'timestamp', 'packetsSent',
      'bytesSent', 'framesEncoded', 'frameWidth', 'frameHeight', 'framesPerSecond',
      'remoteTimestamp', 'roundTripTime', 'roundTripTimeMeasurements'],
    'remote-inbound-rtp': ['id', 'type', 'kind', 'mediaType', 'ssrc', 'codecId', 'trackId',
      'mediaSourceId', 'localId', 'isRemote', 'qualityLimitationReason', 'timestamp', 'packetsLost',
      'jitter', 'roundTripTime', 'totalRoundTripTime', 'roundTripTimeMeasurements', 'mozRtt'],
    'remote-outbound-rtp': ['id', 'type', 'kind', 'mediaType', 'ssrc', 'codecId', 'trackId',
      'mediaSourceId', 'localId', 'isRemote', 'qualityLimitationReason', 'timestamp', 'packetsSent',
      'bytesSent', 'remoteTimestamp', 'roundTripTime', 'roundTripTimeMeasurements'],
    'track': ['id', 'type', 'frameWidth', 'frameHeight', 'framesPerSecond', 'framesDecoded',
      'freezeCount', 'totalFreezesDuration', 'concealedSamples', 'silentConcealedSamples',
      'totalSamplesReceived', 'totalAudioEnergy', 'totalSamplesDuration'],
    'media-source': ['id', 'type', 'audioLevel', 'totalAudioEnergy', 'totalSamplesDuration'],
    'candidate-pair': ['id', 'type', 'currentRoundTripTime', 'availableOutgoingBitrate', 'selected',
      'nominated', 'state', 'bytesSent', 'bytesReceived', 'localCandidateId'],
    'local-candidate': ['id', 'type', 'candidateType', 'protocol', 'relayProtocol', 'networkType'],
    'codec': ['id', 'type', 'mimeType', 'clockRate'],
    'transport': ['id', 'type', 'selectedCandidatePairId'],
  };

  /**
   * The stats objects of a getStats() report (an RTCStatsReport, or any iterable with forEach)
   * to send: with fields 'read', those of the types in READ_FIELDS with only their fields;
   * with 'all', every object whose type is not in excluded (a Set).
   */
  function selectStats(report, fields, excluded) {
    var out = [];
    report.forEach(function (s) {
      if (!s || typeof s !== 'object') return;
      if (fields === 'all') {
        if (!excluded.has(s.type)) out.push(s);
        return;
      }
      var names = Object.prototype.hasOwnProperty.call(READ_FIELDS, s.type) ? READ_FIELDS[s.type] : null;
      if (!names) return;
      var kept = {};
      for (var i = 0; i < names.length; i++) {
        if (s[names[i]] !== undefined) kept[names[i]] = s[names[i]];
      }
      out.push(kept);
    });
    return out;
  }

  // ---- utilities ------------------------------------------------------------------------

  var encoder = typeof TextEncoder === 'function' ? new TextEncoder() : null;

  function byteLength(text) {
    return encoder ? encoder.encode(text).length : text.length * 3;
  }

  function warn(message, error) {
    try {
      if (global.console && console.warn) console.warn('[callquality] ' + message, error || '');
    } catch (_) { /* a console that throws must not break the page */ }
  }

  function errorText(error) {
    return String(error && error.message || error);
  }

  function randomId() {
    try {
      if (global.crypto && typeof crypto.randomUUID === 'function') return 'pc-' + crypto.randomUUID();
    } catch (_) { /* insecure context: fall through */ }
    return 'pc-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10);
  }

  // ---- queue ----------------------------------------------------------------------------
  // Entries are {json, bytes, inflight}: serialised once when sampled, sent as they are.

  function createQueue(maxQueue) {
    var entries = [];  // oldest first

    return {
      size: function () { return entries.length; },

      /** Add a report; returns how many of the oldest were dropped to stay within maxQueue. */
      push: function (item) {
        var json = JSON.stringify(item);
        entries.push({ json: json, bytes: byteLength(json), inflight: false });
        // Counters are cumulative, so the server still gets the totals across dropped
        // reports: the next report kept is differenced against the last one it stored.
        var dropped = 0;
        while (entries.length > maxQueue) {
          entries.shift();
          dropped += 1;
        }
        return dropped;
      },

      /** Remove and return the oldest entry. */
      shift: function () { return entries.shift(); },

      /**
       * Entries not in flight, oldest first (or the newest, for the page-exit flush), up to
       * limitItems and limitBytes of JSON array; an entry alone larger than limitBytes is
       * passed over. The batch is in queue order.
       */
      take: function (limitBytes, limitItems, newestFirst) {
        var batch = [];
        var bytes = 2;  // the array's brackets
        var step = newestFirst ? -1 : 1;
        for (var i = newestFirst ? entries.length - 1 : 0;
          i >= 0 && i < entries.length && batch.length < limitItems; i += step) {
          var entry = entries[i];
          if (entry.inflight) continue;
          if (batch.length && bytes + entry.bytes + 1 > limitBytes) break;
          if (!batch.length && entry.bytes + 2 > limitBytes) continue;
          batch.push(entry);
          bytes += entry.bytes + 1;
        }
        if (newestFirst) batch.reverse();
        return batch;
      },

      /** Drop these entries (sent, or refused for good). */
      remove: function (batch) {
        var gone = new Set(batch);
        entries = entries.filter(function (e) { return !gone.has(e); });
      },
    };
  }

  function batchBody(batch) {
    return '[' + batch.map(function (e) { return e.json; }).join(',') + ']';
  }

  function batchBytes(batch) {
    return batch.reduce(function (n, e) { return n + e.bytes + 1; }, 2);
  }

  // ---- transport ------------------------------------------------------------------------

  /** POSTs of batches to url; tokenOption is a string or a function returning one (or a promise). */
  function createTransport(url, tokenOption, timeoutMs) {
    function token() {
      return Promise.resolve(typeof tokenOption === 'function' ? tokenOption() : tokenOption);
    }

    return {
      /** Resolves with the Response; rejects on a network error or after timeoutMs. */
      post: function (batch, keepalive) {
        return token().then(function (tok) {
          // A keepalive request outlives the page: no timer of ours can abort it.
          var controller = typeof AbortController === 'function' && !keepalive ? new AbortController() : null;
          var timer = controller ? setTimeout(function () { controller.abort(); }, timeoutMs) : null;
          return fetch(url, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', 'Authorization': String(tok) },
            body: batchBody(batch),
            keepalive: !!keepalive,
            credentials: 'omit',
            mode: 'cors',
            signal: controller ? controller.signal : undefined,
          }).then(function (response) {
            if (timer) clearTimeout(timer);
            return response;
          }, function (error) {
            if (timer) clearTimeout(timer);
            throw error;
          });
        });
      },
    };
  }

  /** What an answer means for its batch: 'sent', 'retry' (429, 5xx) or 'refused' (other 4xx). */
  function outcome(response) {
    if (response.ok) return 'sent';
    if (response.status === 429 || response.status >= 500) return 'retry';
    return 'refused';  // 400/401/403/413: sending the same batch again cannot succeed
  }

  /** The Retry-After header in milliseconds (seconds or an HTTP date), or null. */
  function retryAfterMs(response) {
    var value = response.headers.get('Retry-After');
    if (!value) return null;
    var seconds = Number(value);
    if (isFinite(seconds)) return Math.max(0, seconds * 1000);
    var at = Date.parse(value);
    return isFinite(at) ? Math.max(0, at - Date.now()) : null;
  }

  /** The wait before retry number `attempt` (1, 2, ...): doubling, capped, jittered. */
  function backoffDelayMs(attempt, o, serverDelayMs) {
    var delay = Math.min(o.maxBackoffMs, o.backoffMs * Math.pow(2, attempt - 1));
    delay = delay / 2 + Math.random() * delay / 2;  // jitter: clients do not retry in step
    // The server's Retry-After wins: no retry comes sooner.
    if (serverDelayMs !== null) delay = Math.max(serverDelayMs, Math.min(delay, o.maxBackoffMs));
    return delay;
  }

  // ---- sender ---------------------------------------------------------------------------

  /**
   * Drains queue through transport, oldest first, one request at a time; failures back off.
   * status {sent, dropped, failures, rejected, lastError} is the monitor's, written here.
   * hooks: isStopped() (no more reports will come: once the queue is empty, the sender
   * closes), snapshot() (what flush() resolves with), onClosed().
   */
  function createSender(queue, transport, o, status, hooks) {
    var sending = false;
    var closed = false;        // nothing more is sent at all
    var attempt = 0;           // consecutive failures, for the backoff
    var retryTimer = null;
    var waiters = [];          // flush() promises

    function settleWaiters() {
      if (sending || (queue.size() && !closed && retryTimer === null && !hooks.isStopped())) return;
      var done = waiters;
      waiters = [];
      done.forEach(function (resolve) { resolve(hooks.snapshot()); });
    }

    function close() {
      closed = true;
      if (retryTimer !== null) clearTimeout(retryTimer);
      retryTimer = null;
      hooks.onClosed();
    }

    function backoff(serverDelayMs) {
      if (closed) return;
      attempt += 1;
      retryTimer = setTimeout(function () { retryTimer = null; pump(); },
        backoffDelayMs(attempt, o, serverDelayMs));
      settleWaiters();
    }

    function settle(batch, response) {
      var result = outcome(response);
      if (result === 'sent') {
        attempt = 0;
        status.sent += batch.length;
        queue.remove(batch);
        status.lastError = null;
      } else if (result === 'retry') {
        status.failures += 1;
        status.lastError = 'HTTP ' + response.status;
        backoff(retryAfterMs(response));
      } else {
        status.failures += 1;
        status.rejected += batch.length;
        status.dropped += batch.length;
        queue.remove(batch);
        status.lastError = 'HTTP ' + response.status + ' (batch dropped)';
        response.text().then(function (text) { warn('the server rejected a batch: ' + text); },
          function () {});
      }
    }

    // Send the oldest reports; on success go on until the queue is empty.
    function pump() {
      if (hooks.isStopped() && !sending && !queue.size()) close();
      if (sending || closed || retryTimer !== null || !queue.size()) { settleWaiters(); return; }
      var batch = queue.take(o.maxBatchBytes, o.maxBatchItems, false);
      if (!batch.length) {  // a single report larger than a request may be
        var big = queue.shift();
        status.dropped += 1;
        status.rejected += 1;
        status.lastError = 'a report of ' + big.bytes + ' bytes is larger than maxBatchBytes';
        pump();
        return;
      }
      sending = true;
      batch.forEach(function (e) { e.inflight = true; });
      transport.post(batch, false).then(function (response) {
        sending = false;
        batch.forEach(function (e) { e.inflight = false; });
        settle(batch, response);
        pump();
      }, function (error) {
        sending = false;
        batch.forEach(function (e) { e.inflight = false; });
        status.failures += 1;
        status.lastError = 'network: ' + errorText(error);
        backoff(null);
        pump();
      });
    }

    // The page is going away: one keepalive request with the newest reports that fit in
    // limitBytes. Counters are cumulative, so the newest report carries the totals of the
    // reports it skips. budget reserves and releases the page's keepalive bytes.
    function flushOnExit(limitBytes, budget) {
      if (closed || !queue.size()) return;
      var batch = queue.take(limitBytes, o.maxBatchItems, true);
      if (!batch.length) return;
      var bytes = batchBytes(batch);
      queue.remove(batch);
      budget.reserve(bytes);
      transport.post(batch, true).then(function (response) {
        budget.release(bytes);
        if (response.ok) status.sent += batch.length;
        else { status.dropped += batch.length; status.failures += 1; }
      }, function () {
        budget.release(bytes);
        status.dropped += batch.length;
        status.failures += 1;
      });
    }

    return {
      pump: pump,
      flushOnExit: flushOnExit,
      isClosed: function () { return closed; },
      /** Close now: nothing queued is sent any more. */
      close: close,
      settleWaiters: settleWaiters,
      /** Send now, skipping a backoff wait; resolve(snapshot()) once the queue settles. */
      flush: function (resolve) {
        waiters.push(resolve);
        if (retryTimer !== null && !closed) {
          clearTimeout(retryTimer);
          retryTimer = null;
        }
        pump();
      },
    };
  }

  // ---- lifecycle: the page going away ---------------------------------------------------

  // fetch(keepalive) allows 64 KiB of bodies in flight per page, shared by all monitors;
  // stay under it with some headroom.
  var KEEPALIVE_BYTES = 60000;
  var keepaliveInFlight = 0;
  var keepaliveBudget = {
    reserve: function (bytes) { keepaliveInFlight += bytes; },
    release: function (bytes) { keepaliveInFlight -= bytes; },
  };
  var live = new Set();  // {queued(), flushOnExit(limitBytes)} of the monitors that may still send

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

  function watchPage() {
    if (global.addEventListener) global.addEventListener('pagehide', onPageExit);
    if (global.document) {
      document.addEventListener('visibilitychange', function () {
        if (document.visibilityState === 'hidden') onPageExit();
      });
    }
  }

  // ---- lifecycle: one peer connection ---------------------------------------------------

  /** Call onClose once pc closes; returns {isClosed(), detach()}. */
  function watchConnection(pc, onClose) {
    function isClosed() {
      return pc.connectionState === 'closed' || pc.signalingState === 'closed';
    }
    function onState() { if (isClosed()) onClose(); }

    // pc.close() fires no event (W3C webrtc-pc §4.4.1.2 close: "no events fire"), so the
    // call itself is observed; the original close runs first and unchanged.
    var originalClose = pc.close;
    var wrappedClose = function () {
      var result = originalClose.apply(this, arguments);
      try { onClose(); } catch (error) { warn('stopping after close failed', error); }
      return result;
    };
    try { pc.close = wrappedClose; } catch (_) { /* a frozen object: the state check remains */ }
    pc.addEventListener('connectionstatechange', onState);
    pc.addEventListener('signalingstatechange', onState);

    return {
      isClosed: isClosed,
      /** The connection's listeners go, and close() is the original again. */
      detach: function () {
        try {
          pc.removeEventListener('connectionstatechange', onState);
          pc.removeEventListener('signalingstatechange', onState);
          if (pc.close === wrappedClose) pc.close = originalClose;
        } catch (_) { /* nothing to undo */ }
      },
    };
  }

  // ---- monitor --------------------------------------------------------------------------

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
      return inertHandle(errorText(error));
    }
  }

  function settingsOf(options) {
    var o = {};
    Object.keys(DEFAULTS).forEach(function (k) { o[k] = options[k] !== undefined ? options[k] : DEFAULTS[k]; });
    ['roomId', 'participantId'].forEach(function (k) {
      if (typeof options[k] !== 'string' || !options[k]) throw new Error('options.' + k + ' is required');
    });
    if (!options.token) throw new Error('options.token is required (an rtc-role token)');
    o.intervalMs = Math.max(250, Number(o.intervalMs) || DEFAULTS.intervalMs);
    if (o.fields !== 'read' && o.fields !== 'all') throw new Error("options.fields must be 'read' or 'all'");
    return o;
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

  /** The fields every item of this connection carries. */
  function itemBase(options) {
    var base = { roomId: options.roomId, participantId: options.participantId };
    if (options.participantName) base.participantName = String(options.participantName);
    if (options.sessionId) base.sessionId = String(options.sessionId);
    if (options.customRoomId) base.customRoomId = String(options.customRoomId);
    base.peerConnectionId = options.peerConnectionId ? String(options.peerConnectionId) : randomId();
    base.client = clientInfo(options);
    return base;
  }

  function createMonitor(pc, options) {
    if (!pc || typeof pc.getStats !== 'function') throw new Error('the first argument must be an RTCPeerConnection');
    var o = settingsOf(options);
    var base = itemBase(options);
    var url = String(options.endpoint || '').replace(/\/+$/, '') + '/v2/stats';
    var excluded = new Set(o.excludeTypes || []);

    var status = { sent: 0, dropped: 0, failures: 0, rejected: 0, lastError: null };
    var stopped = false;       // no more sampling
    var sampleTimer = null;
    var queue = createQueue(o.maxQueue);

    function snapshot() {
      return {
        sent: status.sent, queued: queue.size(), dropped: status.dropped,
        failures: status.failures, rejected: status.rejected, stopped: stopped,
        peerConnectionId: base.peerConnectionId, lastError: status.lastError,
      };
    }

    var liveEntry = {
      queued: function () { return sender.isClosed() ? 0 : queue.size(); },
      flushOnExit: function (limitBytes) { sender.flushOnExit(limitBytes, keepaliveBudget); },
    };
    var sender = createSender(queue, createTransport(url, options.token, o.timeoutMs), o, status, {
      isStopped: function () { return stopped; },
      snapshot: snapshot,
      onClosed: function () { live.delete(liveEntry); },
    });

    // The connection closed: no new samples. Reports measured before are still sent (with
    // retries, as ever); once the queue is empty the monitor sends nothing more.
    function onClose() {
      if (stopped) return;
      stopped = true;
      detach();
      sender.pump();
    }
    var connection = watchConnection(pc, onClose);

    // No more sampling: the timer and the connection's listeners go.
    function detach() {
      if (sampleTimer !== null) clearTimeout(sampleTimer);
      sampleTimer = null;
      connection.detach();
    }

    function sample() {
      sampleTimer = null;
      if (stopped) return;
      if (connection.isClosed()) { onClose(); return; }
      var timestamp = Date.now();
      pc.getStats().then(function (report) {
        if (stopped) return;
        var stats = selectStats(report, o.fields, excluded);
        status.dropped += queue.push(Object.assign({}, base, { timestamp: timestamp, report: stats }));
        sender.pump();
      }).catch(function (error) {
        status.lastError = 'getStats: ' + errorText(error);
        if (connection.isClosed()) onClose();
      }).then(schedule, schedule);
    }

    function schedule() {
      if (!stopped && sampleTimer === null) sampleTimer = setTimeout(sample, o.intervalMs);
    }

    live.add(liveEntry);
    sampleTimer = setTimeout(sample, 0);  // a first report now: the server's baseline

    return {
      /** Stop sampling and sending; queued reports are discarded (flush() first to send them). */
      stop: function () {
        try {
          stopped = true;
          detach();
          sender.close();
          sender.settleWaiters();
        } catch (error) { warn('stop failed', error); }
      },
      /** Send the queue now (skipping a backoff wait); resolves with stats() when it settles. */
      flush: function () {
        try {
          return new Promise(function (resolve) { sender.flush(resolve); });
        } catch (error) {
          warn('flush failed', error);
          return Promise.resolve(snapshot());
        }
      },
      /** {sent, queued, dropped, failures, rejected, stopped, peerConnectionId, lastError} */
      stats: function () { return snapshot(); },
    };
  }

  watchPage();
  var api = global.callquality || {};
  api.monitor = monitor;
  api.version = VERSION;
  api.readFieldsVersion = READ_FIELDS_VERSION;
  /** A report's stats objects as monitor() sends them by default (fields 'read'). */
  api.filterReport = function (report) { return selectStats(report, 'read', new Set()); };
  global.callquality = api;
})(typeof globalThis !== 'undefined' ? globalThis : (typeof self !== 'undefined' ? self : this));
