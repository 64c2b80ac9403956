"""Shared helpers for the raw-report tests: the real fixtures, and ways to vary them."""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

from conftest import FIXTURES

from callquality.domain.sample import Sample
from callquality.ingest.report import process_report

CHROMIUM = "chromium-156-loopback-getstats.json"
FIREFOX = "firefox-153-getstats.json"

Stats = dict[str, Any]


@cache
def _load(name: str) -> str:
    return (FIXTURES / name).read_text()


def snapshots(name: str) -> list[dict[str, Any]]:
    """The fixture's snapshots, ``[{t, a, b}]``, as a fresh copy the test may edit."""
    return json.loads(_load(name))  # type: ignore[no-any-return]


def run(reports: list[tuple[float, list[Stats]]]) -> list[Sample | None]:
    """Feed reports in order, carrying state; the sample (or None) of each."""
    state: dict[str, Any] | None = None
    samples = []
    for t, report in reports:
        sample, state = process_report(state, t, report)
        samples.append(sample)
    return samples


def side(name: str, pc: str) -> list[tuple[float, list[Stats]]]:
    """One peer connection's reports of a fixture: ``a`` sends, ``b`` receives."""
    return [(s["t"], s[pc]) for s in snapshots(name)]


def one(report: list[Stats], type_: str, kind: str | None = None) -> Stats:
    """The only stats of that type (and kind) in a report."""
    found = [s for s in report if s["type"] == type_ and (kind is None or s.get("kind") == kind)]
    assert len(found) == 1, (type_, kind, len(found))
    return found[0]


def clone(stats: Stats, **changes: Any) -> Stats:
    """A deep copy of a stats dict with some fields changed."""
    out = copy.deepcopy(stats)
    out.update(changes)
    return out
