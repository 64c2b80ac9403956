"""The SQL of the quality series (CONTRACT.md; ``query/stats.py`` shapes the answer).

Aggregation happens in three steps, each with its own rule (docs/metrics.md):
1. per (bucket, participant, peer connection): counts summed, bitrates averaged over time
   (weighted by interval length), other measurements averaged;
2. per (bucket, participant): bitrates and counts summed over the participant's peer
   connections, other measurements averaged over them;
3. per bucket: counts summed over participants, everything else averaged over the
   participants that had that media in the bucket.
All three run in one SQL statement (steps 2 and 3: ``rollups.steps2and3``). Step 1 reads the
minute rollups (``rollups.step1``) instead of the samples when the session has them and its
minutes nest in the requested buckets (an interval that is a whole number of minutes): sums,
counts and maxima recombine exactly, so the answer is the same, and a 1,000-participant hour is
60k rollup rows instead of 720k samples (docs/performance.md). The default 60-s series of a
session reads ``session_rollups``, where all three steps are done already (its pending newest
minute computed from ``sample_rollups``). The extended series' score inputs of whole-minute
buckets come from ``score_input_rollups``; its RTT and jitter percentiles need every sample's
value, so they read the samples.

At the intervals of SERIES_INTERVALS_S a session's series is kept done, bucket by bucket, in
``series_rollups`` (store/series_rollups.py): ``span_row`` computes one bucket by the same
steps from the samples or minute rollups of its span, and ``stored_series`` reads them.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence
from decimal import Decimal
from functools import cache
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    Connection,
    Float,
    Select,
    String,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    select,
)
from sqlalchemy.exc import DBAPIError

from callquality.store import rollups
from callquality.store.db import is_postgres
from callquality.store.schema import (
    ROLLUP_BUCKET_MS,
    ROLLUP_MEASURES,
    SERIES_INTERVALS_S,
    SERIES_PERCENTILES,
    sample_rollups,
    samples,
    score_input_rollups,
    series_rollups,
    series_rollups_pending,
    sessions,
)

# Level-1 measurements: (output name, column, how: "sum" | "avg" | "twavg" | "max")
_MEASURES = ROLLUP_MEASURES


def _aggregate(name: str, column: str, how: str) -> ColumnElement[Any]:
    col = samples.c[column]
    if how == "sum":
        return func.sum(col).label(name)
    if how == "max":
        return func.max(col).label(name)
    if how == "twavg":
        weight = samples.c.interval_ms
        return (
            func.sum(col * weight) / func.sum(case((col.is_not(None), weight), else_=None))
        ).label(name)
    return func.avg(col).label(name)


def bucket_expression(start_ms: int | BindParameter[int], interval_s: int) -> ColumnElement[Any]:
    """The bucket index of a sample: whole intervals since the session's start."""
    # Floor division (SQLAlchemy renders it as integer division on both backends).
    return ((samples.c.timestamp_ms - start_ms) // (interval_s * 1000)).label("bucket")


def _rollup_origin(conn: Connection, session_id: str, start_ms: int, interval_s: int) -> int | None:
    """The session's rollup origin when its minutes nest in this query's buckets, else None."""
    if (interval_s * 1000) % ROLLUP_BUCKET_MS:
        return None
    origin = conn.execute(
        select(sessions.c.rollup_origin_ms).where(sessions.c.session_id == session_id)
    ).scalar()
    if origin is None or (start_ms - int(origin)) % ROLLUP_BUCKET_MS:
        return None
    return int(origin)


def _level1(
    session_id: str | BindParameter[str],
    start_ms: int | BindParameter[int],
    interval_s: int,
    participant_id: str | None,
    origin: int | None,
) -> Select[Any]:
    """Step 1, per (bucket, participant, peer connection): from rollups when they fit."""
    if origin is not None:
        r = sample_rollups.c
        rollup_bucket = (r.bucket * ROLLUP_BUCKET_MS + (origin - start_ms)) // (interval_s * 1000)
        return rollups.step1(session_id, rollup_bucket, participant_id)
    bucket = bucket_expression(start_ms, interval_s)
    query = (
        select(
            bucket,
            samples.c.participant_id,
            samples.c.peer_connection_id,
            *(_aggregate(*m) for m in _MEASURES),
        )
        .where(samples.c.session_id == session_id, samples.c.interval_ms.is_not(None))
        .group_by(bucket, samples.c.participant_id, samples.c.peer_connection_id)
        # A fixed order makes the float sums of steps 2 and 3 the same on every read.
        .order_by(bucket, samples.c.participant_id, samples.c.peer_connection_id)
    )
    return _filtered(query, samples.c.participant_id, participant_id)


def _within(
    query: Select[Any],
    session_id: BindParameter[str],
    origin: BindParameter[int],
    lo: BindParameter[int],
    hi: BindParameter[int],
) -> Select[Any]:
    """A samples query narrowed to timestamps [lo, hi) of the session. The samples' key leads
    with the participant, so the span is found through the minute rollups: each (participant,
    peer connection, minute) row of the span leads to one range of that key."""
    r = sample_rollups.c
    s = samples.c
    minute_start = origin + r.bucket * ROLLUP_BUCKET_MS
    joined = samples.join(sample_rollups, and_(
        r.session_id == s.session_id,
        r.participant_id == s.participant_id,
        r.peer_connection_id == s.peer_connection_id,
        s.timestamp_ms >= minute_start,
        s.timestamp_ms < minute_start + ROLLUP_BUCKET_MS,
    ))
    return query.select_from(joined).where(
        r.session_id == session_id,
        r.bucket.between((lo - origin) // ROLLUP_BUCKET_MS, (hi - 1 - origin) // ROLLUP_BUCKET_MS),
        s.timestamp_ms >= lo,
        s.timestamp_ms < hi,
    )


def _filtered(query: Select[Any], column: Any, participant_id: str | None) -> Select[Any]:
    return query if participant_id is None else query.where(column == participant_id)


def bucket_rows(
    conn: Connection,
    session_id: str,
    start_ms: int,
    interval_s: int,
    participant_id: str | None = None,
) -> dict[int, Any]:
    """Step 3's row of each bucket with data: ``participants``, ``<measure>__sum`` and
    ``<measure>__avg`` of every measure of ``ROLLUP_MEASURES``."""
    origin = _rollup_origin(conn, session_id, start_ms, interval_s)
    if origin is not None and interval_s * 1000 == ROLLUP_BUCKET_MS and participant_id is None:
        # Steps 1-3 are done already, one row per minute (store/rollups.py).
        offset = (origin - start_ms) // ROLLUP_BUCKET_MS
        return {
            b + offset: row._mapping
            for b, row in rollups.session_minutes(conn, session_id).items()
        }
    level1 = _level1(session_id, start_ms, interval_s, participant_id, origin)
    return {int(row.bucket): row._mapping for row in conn.execute(rollups.steps2and3(level1))}


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), q in 0..100."""
    return sorted_percentile(sorted(values), q)


def sorted_percentile(ordered: Sequence[float], q: float) -> float | None:
    """``percentile`` of values already sorted (a bucket's runs), without sorting a copy."""
    if not ordered:
        return None
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def add_numeric_inputs(into: dict[str, list[float]], text: str | None) -> None:
    """Append a sample's numeric score inputs (its score_inputs JSON; strings, None and bools
    left) to ``into``'s list of each name, names in the order first seen."""
    if not text:
        return
    for k, v in orjson.loads(text).items():
        if type(v) is float or type(v) is int:  # JSON's numbers (a bool is not an int here)
            known = into.get(k)
            if known is None:
                into[k] = [float(v)]
            else:
                known.append(float(v))


def _span_statements(interval_s: int) -> tuple[Select[Any], ...]:
    """The statements of the buckets at ``interval_s`` in a span of a session, built once:
    steps 1-3, the minutes' newest received_ms, the samples' details, and the parts' stored
    runs and pending marks (bind parameters session_id, origin, lo and hi)."""
    found = _SPAN_STATEMENTS.get(interval_s)
    if found is not None:
        return found
    session_id = bindparam("session_id", type_=String)
    origin, lo, hi = (bindparam(n, type_=BigInteger) for n in ("origin", "lo", "hi"))
    r = sample_rollups.c
    minutes = r.bucket.between((lo - origin) // ROLLUP_BUCKET_MS,
                               (hi - 1 - origin) // ROLLUP_BUCKET_MS)
    if interval_s * 1000 % ROLLUP_BUCKET_MS == 0:
        level1 = rollups.step1(session_id, r.bucket * ROLLUP_BUCKET_MS // (interval_s * 1000))
        level1 = level1.where(minutes)
    else:
        level1 = _within(_level1(session_id, origin, interval_s, None, None),
                         session_id, origin, lo, hi)
    received = (
        select(r.bucket, func.max(r.received_ms))
        .where(r.session_id == session_id, minutes)
        .group_by(r.bucket)
    )
    details = _within(_details_query(session_id, origin, interval_s, None, True).add_columns(
        samples.c.participant_id, samples.c.peer_connection_id), session_id, origin, lo, hi)
    part_s = part_of(interval_s)
    first, last = (lo - origin) // (part_s * 1000), (hi - 1 - origin) // (part_s * 1000)
    c = series_rollups.c
    pending = series_rollups_pending.c
    parts = select(c.bucket, c.runs, c.score_inputs).where(
        c.session_id == session_id, c.interval_s == part_s, c.bucket.between(first, last))
    marks = select(pending.bucket).where(
        pending.session_id == session_id, pending.interval_s == part_s,
        pending.bucket.between(first, last))
    statements: tuple[Select[Any], ...] = (
        rollups.steps2and3(level1), received, details, parts, marks)
    if interval_s == _FINEST_S:
        single = _within(_single_level1(session_id, origin), session_id, origin, lo, hi)
        statements += (rollups.steps2and3(single),)
    _SPAN_STATEMENTS[interval_s] = statements
    return statements


def _single_level1(session_id: BindParameter[str], origin: BindParameter[int]) -> Select[Any]:
    """SQLite's step 1 at 5 s when no (bucket, participant, peer connection) has more than one
    sample, as one row per sample: what SQLite's aggregates give for one value (a REAL
    sum or mean is 0.0 + x, a time-weighted mean (0.0 + x*w) / (w + 0.0), an INTEGER sum and
    a maximum the value), without the GROUP BY's sort and aggregate calls (PostgreSQL's sum of
    one value is x itself: it keeps the grouped statement)."""
    s = samples.c
    zero: ColumnElement[float] = literal_column("0.0", Float())

    def one(name: str, column: str, how: str) -> ColumnElement[Any]:
        col = s[column]
        if how == "max" or (how == "sum" and not isinstance(col.type, Float)):
            return col.label(name)
        if how == "twavg":
            weight = case((col.is_not(None), s.interval_ms), else_=None)
            # The denominator an integer: rendered + 0.0, as in the grouped statement.
            return ((col * s.interval_ms + zero) / weight).label(name)
        return (col + zero).label(name)

    bucket = bucket_expression(origin, _FINEST_S)
    return (
        select(bucket, s.participant_id, s.peer_connection_id, *(one(*m) for m in _MEASURES))
        .where(s.session_id == session_id, s.interval_ms.is_not(None))
        # The grouped statement's order: steps 2 and 3 add the same values in the same order.
        .order_by(bucket, s.participant_id, s.peer_connection_id)
    )


_SPAN_STATEMENTS: dict[int, tuple[Select[Any], ...]] = {}
_COMPILED: dict[tuple[int, str], Any] = {}
_NAMES: dict[int, tuple[str, ...]] = {}


def _column_names(query: Select[Any]) -> tuple[str, ...]:
    """The names of a statement's columns, in order (of one that lives as long as the
    process: kept by its id)."""
    found = _NAMES.get(id(query))
    if found is None:
        found = _NAMES[id(query)] = tuple(str(c.key) for c in query.selected_columns)
    return found


def span_rows(
    conn: Connection, session_id: str, origin: int, interval_s: int, first: int, last: int,
    *, parts: dict[int, Runs] | None = None, runs_out: dict[int, Runs] | None = None,
    known: tuple[set[int], dict[int, Runs]] | None = None,
    received_memo: dict[tuple[int, int], dict[int, int]] | None = None,
) -> dict[int, dict[str, Any]]:
    """Buckets ``first`` to ``last`` of the session's series at ``interval_s`` (counted
    from ``origin``) as series_rollups rows, by bucket (those with measured samples): steps
    1-3 from the samples or, for whole minutes, the minute rollups of their span, and the
    percentiles and (under a minute) score-input sums of their samples.
    ``parts``: every bucket of the span at the interval it merges (``part_of``), computed
    just before by the caller (those with samples; the others have none), instead of
    reading them back; ``runs_out`` receives the buckets' sorted values and input sums, to
    be given as ``parts`` to a longer interval. ``known``: some buckets of the span at that
    interval computed just before (their ``runs_out``: (the buckets, those with samples)),
    taken as computed instead of stored or pending ones (the others are read).
    ``received_memo``: the minutes' newest received_ms by span of minutes, read once for the
    intervals of one transaction that share a span (a minute's 5, 10, 15, 30 and 60 s)."""
    step = interval_s * 1000
    values = {"session_id": session_id, "origin": origin, "lo": origin + first * step,
              "hi": origin + (last + 1) * step}
    steps, received, details, parts_query, marks, *single = _span_statements(interval_s)
    postgres = is_postgres(conn)
    samples_found: list[tuple[Any, ...]] | None = None
    if interval_s == _FINEST_S:
        samples_found = _plain_rows(conn, details, values, keep=True)
        groups = {(d[0], d[-2], d[-1]) for d in samples_found}  # bucket, participant, pc
        if not postgres and len(groups) == len(samples_found):
            steps = single[0]  # one sample per group of step 1
    names = _column_names(steps)[1:]
    out: dict[int, dict[str, Any]] = {}
    for step3 in _plain_rows(conn, steps, values, keep=True):
        measured: Sequence[Any] = step3[1:]
        if postgres:  # its sums and means of integers are numeric: stored as the floats read
            measured = [float(v) if isinstance(v, Decimal) else v for v in measured]
        out[int(step3[0])] = dict(zip(names, measured, strict=True))
    if not out:
        return out
    minutes = ((first * step) // ROLLUP_BUCKET_MS, ((last + 1) * step - 1) // ROLLUP_BUCKET_MS)
    newest = received_memo.get(minutes) if received_memo is not None else None
    if newest is None:
        newest = {int(minute): int(ms) for minute, ms in conn.execute(received, values)}
        if received_memo is not None:
            received_memo[minutes] = newest
    for bucket, kept in out.items():
        kept["received_ms"] = max(
            newest.get(m, 0)
            for m in range(bucket * step // ROLLUP_BUCKET_MS,
                           ((bucket + 1) * step - 1) // ROLLUP_BUCKET_MS + 1)
        )
    if samples_found is not None:
        found = _sample_runs(samples_found)
    elif parts is not None:
        found = _merge(parts.items(), part_of(interval_s), interval_s)
    else:
        found = _part_runs(conn, (session_id, origin), interval_s, (parts_query, marks), values,
                           known)
    if runs_out is not None:
        runs_out.update(found)
    for bucket, row in out.items():
        runs, inputs = found.get(bucket) or ([[] for _ in SERIES_PERCENTILES], {})
        for (name, _), run in zip(SERIES_PERCENTILES, runs, strict=True):
            row[f"{name}_p50"] = sorted_percentile(run, 50)
            row[f"{name}_p95"] = sorted_percentile(run, 95)
        row["runs"] = _encode(runs) if interval_s in _PART_S else None
        row["score_inputs"] = orjson.dumps(inputs).decode() if step < ROLLUP_BUCKET_MS else None
    return out


def span_count(conn: Connection, session_id: str, origin: int, lo: int, hi: int) -> int:
    """How many samples the session has with timestamps in [lo, hi) (``origin``: its
    rollup origin)."""
    return int(conn.execute(_span_count_statement(), {
        "session_id": session_id, "origin": origin, "lo": lo, "hi": hi}).scalar_one())


@cache
def _span_count_statement() -> Select[Any]:
    session_id = bindparam("session_id", type_=String)
    origin, lo, hi = (bindparam(n, type_=BigInteger) for n in ("origin", "lo", "hi"))
    return _within(select(func.count()), session_id, origin, lo, hi)


# Percentiles take every value of a bucket. So the 5-s buckets keep their samples' values
# sorted (``runs``), and so do the minutes, merged from theirs: a bucket under a minute
# merges its 5-s runs, a longer one its minutes' (sorting concatenated sorted runs is a
# merge). The samples' values are read once, for their 5-s bucket.
_FINEST_S = 5
_PART_S = (5, 60)
InputSums = rollups.InputSums
Runs = tuple[list[list[float]], InputSums]  # sorted values of each percentile, input sums


def part_of(interval_s: int) -> int:
    """The interval whose runs a bucket at ``interval_s`` merges."""
    return _FINEST_S if interval_s * 1000 <= ROLLUP_BUCKET_MS else ROLLUP_BUCKET_MS // 1000


def _sample_runs(details: Iterable[tuple[Any, ...]]) -> dict[int, Runs]:
    """Each 5-s bucket's sorted values and score-input sums (math.fsum totals), from its
    samples' details (bucket, the SERIES_PERCENTILES columns, score inputs, ...)."""
    by_bucket: dict[int, list[tuple[Any, ...]]] = {}
    for d in details:
        by_bucket.setdefault(int(d[0]), []).append(d)
    out: dict[int, Runs] = {}
    for bucket, rows in by_bucket.items():
        columns = list(zip(*rows, strict=True))
        runs = [
            sorted([float(v) for v in column if v is not None])
            for column in columns[1 : len(SERIES_PERCENTILES) + 1]
        ]
        out[bucket] = (runs, input_sums(columns[len(SERIES_PERCENTILES) + 1]))
    return out


_NUMBERS = frozenset((float, int))  # JSON's numbers (a bool is not an int here)


def input_sums(texts: Sequence[str | None]) -> InputSums:
    """The numeric score inputs of samples' score_inputs JSON summed, {name: [math.fsum
    total, count]}, names in the order first seen: ``add_numeric_inputs``' totals (fsum
    takes the ints as floats). A minute's close reads every sample's inputs: when the
    samples name the same inputs in the same order, as one client's usually do, each
    input's values are taken as a column, not one by one."""
    found = [orjson.loads(text) for text in texts if text]
    names = list(found[0]) if found else []
    if not names or any(list(d) != names for d in found):
        inputs: dict[str, list[float]] = {}
        for text in texts:
            add_numeric_inputs(inputs, text)
        return {k: [math.fsum(vs), len(vs)] for k, vs in inputs.items()}
    kept: list[tuple[int, int, str, Sequence[Any]]] = []  # (first seen, position, name, values)
    columns = zip(*(d.values() for d in found), strict=True)  # one input's values each
    for at, (name, column) in enumerate(zip(names, columns, strict=True)):
        kinds = set(map(type, column))
        if kinds <= _NUMBERS:
            kept.append((0, at, name, column))
        elif kinds & _NUMBERS:
            numbers = [i for i, v in enumerate(column) if type(v) in _NUMBERS]
            kept.append((numbers[0], at, name, [column[i] for i in numbers]))
    kept.sort(key=lambda k: (k[0], k[1]))
    return {name: [math.fsum(vs), len(vs)] for _, _, name, vs in kept}


def _part_runs(
    conn: Connection,
    session: tuple[str, int],
    interval_s: int,
    statements: tuple[Select[Any], Select[Any]],
    values: dict[str, Any],
    known: tuple[set[int], dict[int, Runs]] | None = None,
) -> dict[int, Runs]:
    """The buckets' sorted values and score-input sums, merged from their 5-s buckets (under
    a minute, and minutes) or their minutes: ``known`` ones as given, stored ones as
    stored, pending ones computed."""
    part_s = part_of(interval_s)
    parts_query, marks_query = statements
    step = part_s * 1000
    lo = (values["lo"] - values["origin"]) // step
    hi = (values["hi"] - 1 - values["origin"]) // step
    done, computed = known or (set(), {})
    done = {b for b in done if lo <= b <= hi}
    pending = {int(b) for b in conn.execute(marks_query, values).scalars()} - done
    parts = [
        (int(row.bucket), row.runs, row.score_inputs)
        for row in conn.execute(parts_query, values)
        if int(row.bucket) not in pending and int(row.bucket) not in done
    ]
    if pending:
        live = span_rows(conn, session[0], session[1], part_s, min(pending), max(pending))
        parts += [(b, row["runs"], row["score_inputs"]) for b, row in live.items()
                  if b in pending]
    return _merge([*((part, (_decode(blob), orjson.loads(sums) if sums else {}))
                     for part, blob, sums in parts),
                   *((b, computed[b]) for b in done if b in computed)], part_s, interval_s)


def _merge(parts: Iterable[tuple[int, tuple[Sequence[Sequence[float]], InputSums]]],
           part_s: int, interval_s: int) -> dict[int, Runs]:
    """Buckets at ``interval_s`` from their parts at ``part_s``: the values merged sorted,
    the input sums added in the parts' order. The rows of a minute and longer keep no sums
    (nor do the minutes that longer buckets merge), so those buckets get none."""
    keep_sums = interval_s * 1000 < ROLLUP_BUCKET_MS
    merged: dict[int, tuple[list[list[float]], InputSums]] = {}
    for part, (part_runs, sums) in sorted(parts, key=lambda x: x[0]):
        runs, inputs = merged.setdefault(
            part * part_s // interval_s, ([[] for _ in SERIES_PERCENTILES], {}))
        for run, found in zip(runs, part_runs, strict=True):
            run.extend(found)
        if not keep_sums:
            continue
        for name, (total, count) in sums.items():
            before = inputs.get(name)
            if before is None:
                inputs[name] = [total, count]  # a list of its own: added to in place
            else:
                before[0] += total
                before[1] += count
    for runs, _ in merged.values():
        for run in runs:
            run.sort()
    return merged


def _encode(runs: list[list[float]]) -> bytes:
    """Sorted runs as bytes: their lengths (int64), then their values (float64)."""
    return (array("q", [len(r) for r in runs]).tobytes()
            + array("d", [v for r in runs for v in r]).tobytes())


def _decode(blob: bytes) -> list[array[float]]:
    counts = array("q")
    counts.frombytes(blob[: 8 * len(SERIES_PERCENTILES)])
    values = array("d")
    values.frombytes(blob[8 * len(SERIES_PERCENTILES):])
    out, at = [], 0
    for n in counts:
        out.append(values[at : at + n])
        at += n
    return out


def stored_series(
    conn: Connection, session_id: str, start_ms: int, interval_s: int
) -> dict[int, Any] | None:
    """Each bucket's series_rollups row (its pending ones computed now), by bucket since
    ``start_ms``; None when the session keeps none at this interval from this start."""
    if interval_s not in SERIES_INTERVALS_S:
        return None
    found = conn.execute(
        select(sessions.c.rollup_origin_ms, sessions.c.series_rollups).where(
            sessions.c.session_id == session_id)
    ).first()
    step = interval_s * 1000
    if found is None or found[0] is None or not found[1] or (start_ms - int(found[0])) % step:
        return None
    origin = int(found[0])
    p = series_rollups_pending.c
    pending = {int(b) for b in conn.execute(
        select(p.bucket).where(p.session_id == session_id, p.interval_s == interval_s)
    ).scalars()}
    c = series_rollups.c
    rows: dict[int, Any] = {
        int(row.bucket): row._mapping
        for row in conn.execute(
            # Not the runs: an hour's 5-s or minute runs are every sample's values, 23 MB.
            select(*(col for col in c if col.name != "runs")).where(
                c.session_id == session_id, c.interval_s == interval_s)
        )
        if int(row.bucket) not in pending
    }
    if pending:
        live = span_rows(conn, session_id, origin, interval_s, min(pending), max(pending))
        rows.update((b, row) for b, row in live.items() if b in pending)
    offset = (origin - start_ms) // step
    return {b + offset: rows[b] for b in sorted(rows)}


def sample_details(
    conn: Connection,
    session_id: str,
    start_ms: int,
    interval_s: int,
    participant_id: str | None,
    *,
    with_inputs: bool = True,
) -> list[tuple[Any, ...]]:
    """Every measured sample's (bucket, audio and video send RTT, audio and video receive
    jitter[, score inputs JSON]), for the extended series' percentiles and inputs.

    Plain tuples from the driver: a 1,000-participant hour is 720,000 of them, and
    SQLAlchemy's rows cost more than the rest. No order: percentiles sort, and the inputs'
    means (``math.fsum``) do not depend on it.
    """
    query = _details_query(session_id, start_ms, interval_s, participant_id, with_inputs)
    return _plain_rows(conn, query)


def _details_query(
    session_id: str | BindParameter[str],
    start_ms: int | BindParameter[int],
    interval_s: int,
    participant_id: str | None,
    with_inputs: bool,
) -> Select[Any]:
    query = select(
        bucket_expression(start_ms, interval_s),
        *(samples.c[column] for _, column in SERIES_PERCENTILES),
        *((samples.c.score_inputs,) if with_inputs else ()),
    ).where(samples.c.session_id == session_id, samples.c.interval_ms.is_not(None))
    return _filtered(query, samples.c.participant_id, participant_id)


def _plain_rows(
    conn: Connection, query: Select[Any], values: dict[str, Any] | None = None,
    *, keep: bool = False,
) -> list[tuple[Any, ...]]:
    """The driver's plain tuples of ``query`` (``values``: its unset bind parameters).
    ``keep``: compile it once (a statement that lives as long as the process)."""
    key = (id(query), conn.dialect.name)
    compiled = _COMPILED.get(key) if keep else None
    if compiled is None:
        compiled = query.compile(dialect=conn.dialect)
        if keep:
            _COMPILED[key] = compiled
    named = compiled.construct_params(values or {})
    params: Any = (
        tuple(named[name] for name in compiled.positiontup)
        if compiled.positiontup is not None
        else named
    )
    driver: Any = conn.connection.dbapi_connection
    cursor = driver.cursor()
    sql = str(compiled)
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    except conn.dialect.loaded_dbapi.Error as exc:
        # As SQLAlchemy would raise it, so that db.wrap_errors tells an outage (or SQLite's
        # SUM() beyond 64 bits) from the rest.
        raise DBAPIError.instance(sql, params, exc, conn.dialect.loaded_dbapi.Error,
                                  dialect=conn.dialect) from exc
    finally:
        cursor.close()


def bucket_inputs(
    conn: Connection, session_id: str, start_ms: int, interval_s: int
) -> dict[int, dict[str, tuple[float, int]]] | None:
    """Each bucket's score inputs summed over its measured samples, {bucket: {name: (total,
    count)}}, from score_input_rollups; None when the session's minutes do not nest in the
    buckets or it has no such rollups (the samples must be read)."""
    origin = _rollup_origin(conn, session_id, start_ms, interval_s)
    if origin is None or not conn.execute(
        select(sessions.c.input_rollups).where(sessions.c.session_id == session_id)
    ).scalar():
        return None
    r = score_input_rollups.c
    out: dict[int, dict[str, tuple[float, int]]] = {}
    step_ms = interval_s * 1000
    for minute, text in conn.execute(
        select(r.bucket, r.sums).where(r.session_id == session_id).order_by(r.bucket)
    ):
        sums = out.setdefault((int(minute) * ROLLUP_BUCKET_MS + origin - start_ms) // step_ms, {})
        for name, (total, count) in orjson.loads(text).items():
            before = sums.get(name)
            sums[name] = (total, count) if before is None else (before[0] + total,
                                                                before[1] + count)
    return out


# One participant's series (query/stats.py ``participant_series``): the same statements as
# ``bucket_rows`` and ``sample_details`` give for a participant, built once with bind
# parameters for the session, the participant, the start and the interval (the SQL the
# driver sees is the same but for the parameters' names), compiled once per database, and
# read as the driver's plain tuples.
_PARTICIPANT_STATEMENTS: dict[tuple[bool, tuple[str, ...]], Select[Any]] = {}
_PARTICIPANT_SAMPLES: dict[bool, Select[Any]] = {}


def _participant_level1(
    from_rollups: bool, measures: Sequence[tuple[str, str, str]]
) -> Select[Any]:
    """``_level1`` of one participant and ``measures`` (binds session_id, participant_id,
    step_ms and start_ms, or offset_ms (origin - start) when from the minute rollups)."""
    session_id = bindparam("session_id", type_=String)
    participant_id = bindparam("participant_id", type_=String)
    step = bindparam("step_ms", type_=BigInteger)
    if from_rollups:
        r = sample_rollups.c
        offset = bindparam("offset_ms", type_=BigInteger)
        level1 = rollups.step1(session_id, (r.bucket * ROLLUP_BUCKET_MS + offset) // step,
                               measures=measures)
        return level1.where(r.participant_id == participant_id)
    bucket = ((samples.c.timestamp_ms - bindparam("start_ms", type_=BigInteger)) // step
              ).label("bucket")
    return (
        select(
            bucket,
            samples.c.participant_id,
            samples.c.peer_connection_id,
            *(_aggregate(*m) for m in measures),
        )
        .where(samples.c.session_id == session_id, samples.c.interval_ms.is_not(None),
               samples.c.participant_id == participant_id)
        .group_by(bucket, samples.c.participant_id, samples.c.peer_connection_id)
        .order_by(bucket, samples.c.participant_id, samples.c.peer_connection_id)
    )


def _participant_statement(from_rollups: bool, columns: tuple[str, ...]) -> Select[Any]:
    """Steps 1-3 of one participant, of the measures that ``columns`` name only (each
    column's aggregate is the same expression whatever else is computed beside it)."""
    names = {column.split("__")[0] for column in columns}
    measures = [m for m in _MEASURES if m[0] in names]
    level1 = _participant_level1(from_rollups, measures)
    step3 = rollups.steps2and3(level1, measures=measures).subquery("l3")
    return select(step3.c.bucket, *(step3.c[name] for name in columns))


def participant_rows(
    conn: Connection,
    session_id: str,
    start_ms: int,
    interval_s: int,
    participant_id: str,
    columns: tuple[str, ...],
) -> dict[int, tuple[Any, ...]]:
    """What ``bucket_rows`` gives for one participant, as plain tuples of ``columns`` (names
    of its row: ``participants``, ``<measure>__sum``, ``<measure>__avg``), by bucket: the
    same statement restricted to the measures of those columns."""
    origin = _rollup_origin(conn, session_id, start_ms, interval_s)
    key = (origin is not None, columns)
    query = _PARTICIPANT_STATEMENTS.get(key)
    keep = query is not None
    if query is None:
        query = _participant_statement(origin is not None, columns)
        keep = len(_PARTICIPANT_STATEMENTS) < 64  # bounded: callers pass a few fixed tuples
        if keep:
            _PARTICIPANT_STATEMENTS[key] = query
    values: dict[str, Any] = {"session_id": session_id, "participant_id": participant_id,
                              "step_ms": interval_s * 1000}
    if origin is None:
        values["start_ms"] = start_ms
    else:
        values["offset_ms"] = origin - start_ms
    return {int(row[0]): row[1:] for row in _plain_rows(conn, query, values, keep=keep)}


def participant_samples(
    conn: Connection,
    session_id: str,
    start_ms: int,
    interval_s: int,
    participant_id: str,
    *,
    details: bool,
) -> list[tuple[Any, ...]]:
    """Every measured sample of one participant as (bucket, interval_ms, video_recv_height)
    and, with ``details``, what ``sample_details`` adds (the four percentile columns and the
    score-inputs JSON): one scan for resolutionUsage and the extended series. No order."""
    query = _PARTICIPANT_SAMPLES.get(details)
    if query is None:
        step = bindparam("step_ms", type_=BigInteger)
        bucket = ((samples.c.timestamp_ms - bindparam("start_ms", type_=BigInteger)) // step
                  ).label("bucket")
        s = samples.c
        query = _PARTICIPANT_SAMPLES[details] = select(
            bucket, s.interval_ms, s.video_recv_height,
            *((*(s[column] for _, column in SERIES_PERCENTILES), s.score_inputs)
              if details else ()),
        ).where(s.session_id == bindparam("session_id", type_=String),
                s.participant_id == bindparam("participant_id", type_=String),
                s.interval_ms.is_not(None))
    return _plain_rows(conn, query, {
        "session_id": session_id, "participant_id": participant_id, "start_ms": start_ms,
        "step_ms": interval_s * 1000}, keep=True)
