"""The body's typed decoding (issue 19) reads what the plain JSON path reads.

``parse_body`` decodes a report's stats from the bytes as Structs of the fields read; a
report the Structs refuse takes the slow way. Either way the sample, the state and the
error must be those of the report as plain dicts.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from conftest import FIXTURES

from callquality.api.ingest_models import parse_body
from callquality.domain.errors import InvalidInput
from callquality.ingest.read_fields import Stats
from callquality.ingest.report import ReportError, process_report

SNAPSHOTS = orjson.loads((FIXTURES / "chromium-156-loopback-getstats.json").read_bytes())


def _posted(report: list[Any], t: float) -> list[Any]:
    body = orjson.dumps({"roomId": "r", "participantId": "p", "timestamp": t, "report": report})
    (item,) = parse_body(body, 1)
    assert item.report is not None
    return item.report


def _both(edit: Any) -> tuple[list[Any], list[Any]]:
    """Two snapshots' 'a' reports, edited alike, as posted and as plain dicts."""
    posted, plain = [], []
    for snap in SNAPSHOTS[:2]:
        report = copy.deepcopy(snap["a"])
        edit(report)
        posted.append(_posted(report, snap["t"]))
        plain.append(report)
    return posted, plain


def _derive(reports: list[list[Any]]) -> list[Any]:
    state: Any = None
    out = []
    for snap, report in zip(SNAPSHOTS, reports, strict=False):
        sample, state = process_report(state, snap["t"], report)
        out.append((sample, state))
    return out


def test_a_browsers_report_is_decoded_typed_and_gives_what_its_dicts_give() -> None:
    posted, plain = _both(lambda report: None)
    assert all(isinstance(s, Stats) for s in posted[0])
    assert _derive(posted) == _derive(plain)


def _unknown_type(report: list[Any]) -> None:
    report.append({"id": "X1", "type": "something-new", "packetsSent": "many"})


def _unread_field_out_of_bounds(report: list[Any]) -> None:
    # outbound-rtp's Struct bounds roundTripTime (read of Firefox's isRemote stats, as
    # remote-outbound-rtp); the reader ignores it on a plain outbound-rtp. A boolean SSRC
    # is read as none either way.
    for stats in report:
        if stats["type"] == "outbound-rtp":
            stats["roundTripTime"] = -1
            stats["ssrc"] = True


@pytest.mark.parametrize("edit", [_unknown_type, _unread_field_out_of_bounds])
def test_a_report_the_structs_refuse_but_the_reader_accepts_gives_the_same(edit: Any) -> None:
    posted, plain = _both(edit)
    assert not isinstance(posted[0][0], Stats)  # the plain JSON path
    assert _derive(posted) == _derive(plain)
    assert _derive(posted)[1][0] is not None


def test_an_invalid_number_is_named_as_for_dicts() -> None:
    def bad(report: list[Any]) -> None:
        for stats in report:
            if stats["type"] == "outbound-rtp":
                stats["packetsSent"] = -5

    report = copy.deepcopy(SNAPSHOTS[0]["a"])
    bad(report)
    with pytest.raises(ReportError) as from_dicts:
        process_report(None, SNAPSHOTS[0]["t"], report)
    with pytest.raises(ReportError) as posted:
        process_report(None, SNAPSHOTS[0]["t"], _posted(report, SNAPSHOTS[0]["t"]))
    assert str(posted.value) == str(from_dicts.value)
    assert "'packetsSent' must not be negative" in str(posted.value)


def test_an_unknown_item_field_is_refused_by_name() -> None:
    body = orjson.dumps({"roomId": "r", "participantId": "p", "timestamp": SNAPSHOTS[0]["t"],
                         "report": SNAPSHOTS[0]["a"], "extra": 1})
    with pytest.raises(InvalidInput, match=r"items\[0\]\.extra: unknown field"):
        parse_body(body, 1)
