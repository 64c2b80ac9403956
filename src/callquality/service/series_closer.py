"""Writing the series buckets that an ingest closed, after its commit (store/series_rollups.py).

When a request brings a session's first data of a new minute (of a new bucket, at intervals
of a minute and more), the buckets before are done: they are written once, with their
steps, percentiles and score inputs computed from the samples. That is the costliest step
of such a request, and with every session of a fleet opened at the same moment, every
session closes its minute in the same few seconds. So the ingest only marks them pending
(a read computes pending buckets, so answers do not change) and hands them over:

- ``write_closed`` computes them in a read transaction, then stores them in short write
  transactions (a few sessions each), each of which computes its sessions' again if their
  span's samples changed meanwhile (a late report: samples are only added, so the same
  count is the same samples). On PostgreSQL each takes the rooms' ingest locks first, so
  no ingest of those sessions commits in between.
- ``SeriesCloser`` does it on a thread of its own, after the answer: the request's latency
  does not include it, and the work of many requests is computed in one read transaction
  (then stored a few sessions per write transaction).

Should it fail or the process stop first, the buckets stay pending: the session's close two
units later, or its end, writes them.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from callquality.domain.errors import StoreUnavailable
from callquality.store import series_rollups, writes
from callquality.store.db import is_postgres, read_transaction, write_transaction

_log = logging.getLogger("callquality.ingest")
# Requests' closes computed in one read transaction at most: their rows are held in memory
# until stored (a minute's close of a 10-participant session is ~25 rows of ~5 KB).
_MAX_BATCH = 16
# Sessions whose computed rows one write transaction stores (a batch's ~80 took the write
# lock for ~100 ms at a time).
_STORE_SESSIONS = 8


@dataclass(slots=True)
class Closed:
    """Series buckets closed by an ingest, pending until written."""

    keys: series_rollups.Keys = field(default_factory=list)
    origins: dict[str, int] = field(default_factory=dict)  # session -> its rollup origin
    rooms: dict[str, tuple[str, str]] = field(default_factory=dict)  # session -> (key, room)

    def add(self, other: Closed) -> None:
        self.keys += other.keys
        self.origins.update(other.origins)
        self.rooms.update(other.rooms)


def write_closed(engine: Engine, closed: Closed) -> None:
    """Compute closed buckets in a read transaction and store them (``store_closed``), a
    few sessions per write transaction; a failure is logged (its type only) and leaves
    those not stored yet pending."""
    if not closed.keys:
        return
    try:
        with read_transaction(engine) as conn:
            counts = series_rollups.span_counts(conn, closed.keys, closed.origins)
            rows = series_rollups.compute(conn, closed.keys, closed.origins)
        # Stored a few sessions per write transaction: each holds the write lock (on SQLite,
        # every ingest's) for a few sessions' rows, not for a whole batch's.
        sessions = sorted(counts)
        for at in range(0, len(sessions), _STORE_SESSIONS):
            these = set(sessions[at : at + _STORE_SESSIONS])
            part = Closed(
                [k for k in closed.keys if k[0] in these],
                {s: o for s, o in closed.origins.items() if s in these},
                {s: r for s, r in closed.rooms.items() if s in these},
            )
            store_closed(engine, part, ({s: counts[s] for s in these},
                                        [r for r in rows if r["session_id"] in these]))
    except (StoreUnavailable, IntegrityError) as exc:
        _log.warning("series buckets left pending, written at a later close: %s",
                     type(exc).__name__)


def store_closed(engine: Engine, closed: Closed,
                 computed: tuple[dict[str, int], list[dict[str, Any]]]) -> None:
    """Store closed buckets computed earlier ((each session's sample count in their span,
    the rows)), or computed again now if their spans' samples changed since."""
    counts, rows = computed
    keys, origins = closed.keys, closed.origins
    with write_transaction(engine) as conn:
        if is_postgres(conn):  # no ingest of these sessions commits until this one does
            by_key: dict[str, set[str]] = {}
            for api_key, room_id in closed.rooms.values():
                by_key.setdefault(api_key, set()).add(room_id)
            for api_key in sorted(by_key):
                writes.lock_rooms(conn, api_key, sorted(by_key[api_key]))
        if series_rollups.span_counts(conn, keys, origins) != counts:
            rows = series_rollups.compute(conn, keys, origins)  # late data came in
        series_rollups.store(conn, rows, keys)


class SeriesCloser:
    """A thread that writes the buckets ingests close (``submit``), as soon as it can, the
    closes of the requests waiting (up to ``_MAX_BATCH``) computed in one read transaction
    (``write_closed``)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[Closed | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._waiting = 0  # closes submitted, not yet written
        self._idle = threading.Event()
        self._idle.set()

    def submit(self, closed: Closed) -> None:
        """Write these closed buckets soon (after the caller's answer)."""
        if not closed.keys:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="series-closer",
                                                daemon=True)
                self._thread.start()
            self._waiting += 1
            self._idle.clear()
            self._queue.put(closed)

    def drain(self, timeout_s: float = 30.0) -> bool:
        """Wait until every submitted close is written (or has failed); False on timeout."""
        return self._idle.wait(timeout_s)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Write what is submitted, then end the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout_s)

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                return
            batch, taken = Closed(), [first]
            while len(taken) < _MAX_BATCH:  # what else waits, in one go
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                taken.append(more)
            for closed in taken:
                batch.add(closed)
            batch.keys = sorted(set(batch.keys))
            began = time.monotonic()
            try:
                write_closed(self._engine, batch)
            except Exception as exc:  # noqa: BLE001 (the thread must survive; left pending)
                _log.error("series buckets left pending (%s)", type(exc).__name__)
            with self._lock:
                self._waiting -= len(taken)
                if not self._waiting:
                    self._idle.set()
            if not stop and not self._idle.is_set():
                # At most half of the time, when closes queue up (every session of a fleet
                # that opened at once closes its minute in the same step): the requests
                # keep the rest of the process's share of the GIL.
                time.sleep(min(time.monotonic() - began, 1.0))
