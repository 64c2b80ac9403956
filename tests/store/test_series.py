"""The parts of store/series.py that need no database: a bucket's score-input sums taken
column by column are the ones taken value by value (the closer's shortcut)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from callquality.store.series import add_numeric_inputs, input_sums

_VALUES = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**60), 2**60),
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
