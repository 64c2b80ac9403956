"""Minute rollups: kept by ingest beside the samples, read by the stats query.

``sample_rollups`` holds, per (participant, peer connection, minute), the sums, counts and
maxima of step 1 of query/stats.py; ``session_rollups`` holds, per (session, minute), steps
2 and 3 already done, for every minute but those in ``session_rollups_pending`` (a session's
newest, computed from sample_rollups when read); ``score_input_rollups`` holds, per (session,
minute), each score input summed over the samples, for the extended series. All count
minutes from the session's ``rollup_origin_ms``. Sums and counts recombine exactly into any
bucket made of whole minutes, so the series read from them is the one read from the samples
(up to the order of floating-point additions).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Select,
    Table,
    case,
    func,
    or_,
    select,
)

from callquality.store import bulk
from callquality.store.schema import (
    ROLLUP_BUCKET_MS,
    ROLLUP_MEASURES,
    rollup_columns,
    sample_rollups,
    score_input_rollups,
    session_rollups,
    session_rollups_pending,
)

# Summed over a participant's peer connections (step 2); the rest are averaged over them.
ADDITIVE = frozenset(name for name, _, how in ROLLUP_MEASURES if how in ("sum", "twavg"))


def _plan() -> list[tuple[str, str, str, str | None]]:
    """(samples column, how, value column, count column or None) of each measure."""
    plan: list[tuple[str, str, str, str | None]] = []
    for name, source, how in ROLLUP_MEASURES:
        names = [c for c, _ in rollup_columns(name, how, False)]
        plan.append((source, how, names[0], names[1] if len(names) > 1 else None))
    return plan


_PLAN = _plan()
_COUNT_COLUMNS = [c for _, _, _, c in _PLAN if c is not None]


def rollup_rows(rows: Iterable[Mapping[str, Any]], origin_ms: int) -> list[dict[str, Any]]:
    """The rollup increments of sample rows: one per (participant, peer connection, minute)."""
    out: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    for row in rows:
        weight = row["interval_ms"]
        if weight is None:  # a baseline report: no measurements
            continue
        key = (
            row["session_id"],
            row["participant_id"],
            row["peer_connection_id"],
            (row["timestamp_ms"] - origin_ms) // ROLLUP_BUCKET_MS,
        )
        acc = out.get(key)
        if acc is None:
            acc = out[key] = {
                "session_id": key[0],
                "participant_id": key[1],
                "peer_connection_id": key[2],
                "bucket": key[3],
                "received_ms": row["received_ms"],
                **{c: 0 for c in _COUNT_COLUMNS},
            }
            for _, _, first, _ in _PLAN:
                acc[first] = None
        acc["received_ms"] = max(acc["received_ms"], row["received_ms"])
        for source, how, first, second in _PLAN:
            value = row[source]
            if value is None:
                continue
            old = acc[first]
            if how == "max":
                acc[first] = value if old is None or value > old else old
                continue
            if how == "twavg":
                value = value * weight
                acc[str(second)] += weight
            elif how == "avg":
                acc[str(second)] += 1
            acc[first] = value if old is None else old + value
    return list(out.values())


InputSums = dict[str, list[float]]  # score input -> [total, count]


def input_sums(
    rows: Iterable[Mapping[str, Any]], origin_ms: int, into: dict[tuple[str, int], Any]
) -> None:
    """Add the numeric score inputs of measured sample rows to ``into``: {(session, minute):
    [newest received_ms, {input: [total, count]}]}, in row order."""
    for row in rows:
        text = row["score_inputs"]
        if row["interval_ms"] is None or not text:
            continue
        key = (row["session_id"], (row["timestamp_ms"] - origin_ms) // ROLLUP_BUCKET_MS)
        acc = into.get(key)
        if acc is None:
            acc = into[key] = [row["received_ms"], {}]
        elif row["received_ms"] > acc[0]:
            acc[0] = row["received_ms"]
        sums: InputSums = acc[1]
        for name, value in orjson.loads(text).items():
            if type(value) is not float and type(value) is not int:  # strings, None, bools
                continue
            total = sums.get(name)
            if total is None:
                sums[name] = [value, 1]
            else:
                total[0] += value
                total[1] += 1


def _add_inputs(
    conn: Connection, by_session: Mapping[str, tuple[Sequence[Mapping[str, Any]], int]]
) -> None:
    """Add the rows' score inputs to their minutes' sums (read, added to, written back: the
    caller holds the rooms' locks)."""
    new: dict[tuple[str, int], Any] = {}
    for rows, origin in by_session.values():
        input_sums(rows, origin, new)
    if not new:
        return
    stored = bulk.select_by_keys(
        conn, score_input_rollups, ("session_id", "bucket"), sorted(new),
        ("session_id", "bucket", "received_ms", "sums"),
    )
    for session_id, bucket, received_ms, text in stored:
        acc = new[(session_id, int(bucket))]
        old: InputSums = orjson.loads(text)
        for name, (total, count) in acc[1].items():
            before = old.get(name)
            old[name] = [total, count] if before is None else [before[0] + total,
                                                               before[1] + count]
        acc[0] = max(acc[0], int(received_ms))
        acc[1] = old
    bulk.insert_many(
        conn,
        score_input_rollups,
        [
            {"session_id": s, "bucket": b, "received_ms": received,
             "sums": orjson.dumps(sums).decode()}
            for (s, b), (received, sums) in new.items()
        ],
        _replace_inputs,
    )


def _replace_inputs(stmt: Any) -> Any:
    return stmt.on_conflict_do_update(
        index_elements=["session_id", "bucket"],
        set_={"received_ms": stmt.excluded.received_ms, "sums": stmt.excluded.sums},
    )


def add_samples_many(
    conn: Connection, by_session: Mapping[str, tuple[Sequence[Mapping[str, Any]], int]]
) -> None:
    """Add newly stored sample rows to their sessions' rollups: {session: (rows, origin)}.

    The session_rollups row of a minute is rewritten from all of its participant rows, which
    costs as much for one new sample as for sixty. So a session's newest minute, which every
    report of the session adds to, is only marked pending; the minutes before it that this
    request or an earlier one touched are rewritten now, once. A pending minute is computed
    from sample_rollups by the stats query (``pending_minutes``).
    """
    increments = [inc for rows, origin in by_session.values() for inc in rollup_rows(rows, origin)]
    if not increments:
        return
    bulk.insert_many(conn, sample_rollups, increments, _add_on_conflict)
    _add_inputs(conn, by_session)
    touched: dict[str, set[int]] = {}
    for inc in increments:
        touched.setdefault(inc["session_id"], set()).add(inc["bucket"])
    pending: dict[str, set[int]] = {}
    for session_id, bucket in bulk.select_by_keys(
        conn, session_rollups_pending, ("session_id",), [(s,) for s in sorted(touched)],
        ("session_id", "bucket"),
    ):
        pending.setdefault(session_id, set()).add(int(bucket))
    rewrite: dict[str, set[int]] = {}
    newest: list[dict[str, Any]] = []
    done: list[tuple[str, int]] = []
    for session_id, minutes in touched.items():
        before = pending.get(session_id, set())
        last = max(minutes | before)
        rewrite[session_id] = (minutes | before) - {last}
        done += [(session_id, m) for m in before - {last}]
        if last not in before:
            newest.append({"session_id": session_id, "bucket": last})
    refresh_minutes(conn, rewrite)
    bulk.delete_by_keys(conn, session_rollups_pending, ("session_id", "bucket"), done)
    bulk.insert_many(conn, session_rollups_pending, newest)


def _add_on_conflict(stmt: Any) -> Any:
    """ON CONFLICT of the sample_rollups insert: add the increments to the stored row."""
    new = stmt.excluded
    old = sample_rollups.c
    set_: dict[str, Any] = {
        "received_ms": case(
            (new.received_ms > old.received_ms, new.received_ms), else_=old.received_ms
        )
    }
    for _, how, first, second in _PLAN:
        if how == "max":
            set_[first] = case(
                (or_(old[first].is_(None), new[first] > old[first]), new[first]),
                else_=old[first],
            )
        else:  # a sum that stays NULL while no value was seen
            set_[first] = case(
                (old[first].is_(None), new[first]),
                (new[first].is_(None), old[first]),
                else_=old[first] + new[first],
            )
        if second is not None:
            set_[second] = old[second] + new[second]
    return stmt.on_conflict_do_update(
        index_elements=["session_id", "participant_id", "peer_connection_id", "bucket"],
        set_=set_,
    )


def _step1(name: str, how: str, col: Any = sample_rollups.c) -> ColumnElement[Any]:
    """Step 1 of one measure, recombined from the rollup sums and counts (of ``col``)."""
    if how == "sum":
        return func.sum(col[f"{name}_sum"]).label(name)
    if how == "max":
        return func.max(col[f"{name}_max"]).label(name)
    total, count = (f"{name}_wsum", f"{name}_w") if how == "twavg" else (f"{name}_sum", f"{name}_n")
    return (func.sum(col[total]) / func.nullif(func.sum(col[count]), 0)).label(name)


def step1(
    session_id: str | BindParameter[str],
    bucket: ColumnElement[Any],
    participant_id: str | None = None,
    *,
    measures: Sequence[tuple[str, str, str]] = ROLLUP_MEASURES,
) -> Select[Any]:
    """Step 1 from sample_rollups: per (bucket, participant, peer connection); ``measures``:
    those of ROLLUP_MEASURES to compute (a reader that needs fewer)."""
    r = sample_rollups.c
    query = (
        select(
            bucket.label("bucket"),
            r.participant_id,
            r.peer_connection_id,
            *(_step1(name, how) for name, _, how in measures),
        )
        .where(r.session_id == session_id)
        .group_by(bucket, r.participant_id, r.peer_connection_id)
    )
    return query if participant_id is None else query.where(r.participant_id == participant_id)


def steps2and3(
    level1: Select[Any],
    *,
    by_session: bool = False,
    measures: Sequence[tuple[str, str, str]] = ROLLUP_MEASURES,
) -> Select[Any]:
    """Steps 2 and 3: per participant, then per bucket (participants, sums and means).

    ``by_session``: ``level1`` also has ``session_id`` and ``received_ms`` columns, and the
    result is per (session, bucket), with the newest ``received_ms``. ``measures``: those of
    ROLLUP_MEASURES that ``level1`` has (a reader that needs fewer).
    """
    l1 = level1.subquery("l1")
    keys = [l1.c.session_id, l1.c.bucket] if by_session else [l1.c.bucket]
    received = [func.max(l1.c.received_ms).label("received_ms")] if by_session else []
    l2 = (
        select(
            *keys,
            l1.c.participant_id,
            *received,
            *(
                (func.sum(l1.c[name]) if name in ADDITIVE else func.avg(l1.c[name])).label(name)
                for name, _, _ in measures
            ),
        )
        .group_by(*keys, l1.c.participant_id)
        .subquery("l2")
    )
    columns: list[ColumnElement[Any]] = [l2.c[k.name] for k in keys]
    if by_session:
        columns.append(func.max(l2.c.received_ms).label("received_ms"))
    columns.append(func.count().label("participants"))
    for name, _, _ in measures:
        columns += [
            func.sum(l2.c[name]).label(f"{name}__sum"),
            func.avg(l2.c[name]).label(f"{name}__avg"),
        ]
    return select(*columns).group_by(*(l2.c[k.name] for k in keys))


def refresh_minutes(conn: Connection, minutes: Mapping[str, Iterable[int]]) -> None:
    """Recompute the session_rollups rows of these minutes ({session: minutes}) from
    sample_rollups: one INSERT ... SELECT ... ON CONFLICT DO UPDATE for all of them."""
    keys = sorted((s, m) for s, ms in minutes.items() for m in set(ms))
    if keys:
        bulk.upsert_selected(conn, sample_rollups, ("session_id", "bucket"), keys, _refresh)


def _refresh(frm: Any, src: Any) -> tuple[Table, Select[Any], tuple[str, ...]]:
    """The refresh's SELECT, from ``src``: the sample_rollups rows of the wanted minutes."""
    level1 = (
        select(
            src.session_id,
            src.bucket,
            src.participant_id,
            src.peer_connection_id,
            func.max(src.received_ms).label("received_ms"),
            *(_step1(name, how, src) for name, _, how in ROLLUP_MEASURES),
        )
        .select_from(frm)
        .group_by(src.session_id, src.bucket, src.participant_id, src.peer_connection_id)
    )
    return session_rollups, steps2and3(level1, by_session=True), ("session_id", "bucket")


def session_minutes(conn: Connection, session_id: str) -> dict[int, Any]:
    """Steps 1-3 of each minute of a session, by minute: its session_rollups row, or, for a
    minute still pending, the same computed from its sample_rollups rows."""
    pending = [
        int(b)
        for b in conn.execute(
            select(session_rollups_pending.c.bucket).where(
                session_rollups_pending.c.session_id == session_id
            )
        ).scalars()
    ]
    rows = {
        int(row.bucket): row
        for row in conn.execute(
            select(session_rollups).where(session_rollups.c.session_id == session_id)
        )
        if int(row.bucket) not in pending
    }
    if pending:
        r = sample_rollups.c
        live = step1(session_id, r.bucket).where(r.bucket.in_(pending))
        rows.update((int(row.bucket), row) for row in conn.execute(steps2and3(live)))
    return dict(sorted(rows.items()))
