"""The closer's shortcuts in store/series.py give what the long way gives: a bucket's
score-input sums taken column by column, and SQLite's step 1 of one sample per group."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from support.items import T0, sample_item

from callquality.api.ingest_models import parse_items
from callquality.config import Settings
from callquality.service.ingest import ingest
from callquality.store import series
from callquality.store.db import create_store_engine, migrate, read_transaction
from callquality.store.schema import sessions
from callquality.store.series import add_numeric_inputs, input_sums

_VALUES = st.one_of(
    st.floats(-1e300, 1e300), st.integers(-(2**60), 2**60),  # sums that stay finite
    st.booleans(), st.none(), st.text(max_size=3),
)


def _one_by_one(texts: Sequence[str | None]) -> dict[str, list[Any]]:
    inputs: dict[str, list[float]] = {}
    for text in texts:
        add_numeric_inputs(inputs, text)
    return {k: [math.fsum(vs), len(vs)] for k, vs in inputs.items()}


def _same(a: dict[str, list[Any]], b: dict[str, list[Any]]) -> None:
    assert list(a) == list(b)  # the names in the same order: the stored JSON's order
    for name in a:
        assert orjson.dumps(a[name]) == orjson.dumps(b[name]), name


@given(st.lists(st.sampled_from("abcd"), min_size=1, max_size=4, unique=True),
       st.lists(st.lists(_VALUES, min_size=4, max_size=4), max_size=12))
def test_inputs_named_alike_sum_as_one_by_one(names: list[str],
                                              rows: list[list[Any]]) -> None:
    texts = [orjson.dumps(dict(zip(names, row, strict=False))).decode() for row in rows]
    _same(input_sums(texts), _one_by_one(texts))


@given(st.lists(st.one_of(st.none(), st.just(""), st.dictionaries(
    st.sampled_from("abcd"), _VALUES, max_size=4).map(lambda d: orjson.dumps(d).decode())),
    max_size=12))
def test_inputs_named_differently_sum_as_one_by_one(texts: list[str | None]) -> None:
    _same(input_sums(texts), _one_by_one(texts))


def test_an_input_first_seen_as_a_number_later_comes_after_those_seen_before() -> None:
    texts = ['{"a":"x","b":1.5,"c":true}', '{"a":2,"b":0.5,"c":3}']
    assert input_sums(texts) == {"b": [2.0, 2], "a": [2.0, 1], "c": [3.0, 1]}


def test_sqlites_one_sample_step_1_is_its_grouped_step_1(tmp_path: Path) -> None:
    """At 5 s with one sample per (bucket, participant, peer connection), SQLite's steps
    read the samples as rows instead of grouping them: the same values, bit for bit."""
    engine = create_store_engine(f"sqlite:///{tmp_path / 'cq.db'}")
    migrate(engine)
    rng = random.Random(3)
    items: list[dict[str, Any]] = []
    for step in range(14):
        for p in ("alice", "bob", "carol"):
            jitter_ms = rng.randint(0, 4000) if items else 0  # the first: the origin
            item = sample_item("room", p, T0 + step * 5000 + jitter_ms,
                               rtt_ms=rng.uniform(0, 300), jitter_ms=rng.uniform(0, 40) / 3,
                               video_bitrate=rng.uniform(1e5, 2e6) / 7,
                               interval_ms=rng.choice((4000, 5000, 6000)))
            if p == "bob" and step % 3 == 0:
                item["sample"].pop("video")
            items.append(item)
    ingest(engine, Settings(), "key", parse_items(items, 1000), int(time.time() * 1000))
    with read_transaction(engine) as conn:
        session_id, origin = conn.execute(
            select(sessions.c.session_id, sessions.c.rollup_origin_ms)).one()
        values = {"session_id": session_id, "origin": origin, "lo": origin,
                  "hi": origin + 70_000}
        grouped, *_, single = series._span_statements(5)
        rows = series._plain_rows(conn, grouped, values)
        assert len(rows) == 14
        assert series._plain_rows(conn, single, values) == rows
    engine.dispose()
