"""A structurally invalid report raises ReportError naming the stats id and the field."""

from __future__ import annotations

import math
from typing import Any

import pytest
from report_helpers import CHROMIUM, FIREFOX, snapshots

from callquality.ingest.report import ReportError, process_report
from callquality.ingest.rtcstats import NUMERIC_FIELDS, _rtp_type


def first(name: str = CHROMIUM, pc: str = "a") -> tuple[float, list[dict[str, Any]]]:
    snap = snapshots(name)[0]
    return snap["t"], snap[pc]


@pytest.mark.parametrize(
    ("report", "needle"),
    [
        ({"id": "x", "type": "codec"}, "must be a list"),
        ("[]", "must be a list"),
        ([1], "report[0] must be a stats object"),
        ([{"type": "codec"}], "report[0] has no string 'id'"),
        ([{"id": 7, "type": "codec"}], "report[0] has no string 'id'"),
        ([{"id": "C1"}], "'C1': missing string field 'type'"),
        ([{"id": "C1", "type": None}], "'C1': missing string field 'type'"),
    ],
)
def test_structure_errors_say_where(report: Any, needle: str) -> None:
    with pytest.raises(ReportError) as err:
        process_report(None, 1000.0, report)
    assert needle in str(err.value)


def every_numeric_field(name: str, pc: str) -> list[tuple[str, str]]:
    """(stats id, field) for every numeric field the fixture's first report holds."""
    _, report = first(name, pc)
    return [
        (s["id"], f)
        for s in report
        for f in NUMERIC_FIELDS.get(_rtp_type(s) or s["type"], ())
        if f in s
    ]


@pytest.mark.parametrize("name", [CHROMIUM, FIREFOX])
@pytest.mark.parametrize("pc", ["a", "b"])
@pytest.mark.parametrize("bad", ["12", True, math.nan, math.inf, [1], {"v": 1}])
def test_every_non_numeric_counter_is_named_with_its_stats_id(
    name: str, pc: str, bad: object
) -> None:
    fields = every_numeric_field(name, pc)
    assert len(fields) > 15
    for stats_id, field in fields:
        t, report = first(name, pc)
        for s in report:
            if s["id"] == stats_id:
                s[field] = bad
        with pytest.raises(ReportError) as err:
            process_report(None, t, report)
        assert (err.value.stats_id, err.value.field) == (stats_id, field)
        assert repr(stats_id) in str(err.value) and repr(field) in str(err.value)


def test_negative_counter_is_invalid() -> None:
    t, report = first()
    out = next(s for s in report if s["type"] == "outbound-rtp")
    out["bytesSent"] = -1
    with pytest.raises(ReportError, match="'bytesSent' must not be negative"):
        process_report(None, t, report)


def test_negative_packets_lost_is_valid_rfc3550() -> None:
    t, report = snapshots(CHROMIUM)[0]["t"], snapshots(CHROMIUM)[0]["b"]
    inbound = next(s for s in report if s["type"] == "inbound-rtp")
    inbound["packetsLost"] = -2  # duplicates outnumber losses
    process_report(None, t, report)


def test_null_field_is_absent_not_invalid() -> None:
    t, report = first()
    next(s for s in report if s["type"] == "outbound-rtp")["framesPerSecond"] = None
    process_report(None, t, report)


def test_unknown_stats_types_and_fields_are_ignored() -> None:
    t, report = first()
    report.append({"id": "X", "type": "future-thing", "bytesSent": "lots"})
    process_report(None, t, report)


def test_invalid_report_raises_even_when_stale() -> None:
    t, report = first()
    _, state = process_report(None, t, report)
    with pytest.raises(ReportError):
        process_report(state, t - 1, [{"id": "only"}])


@pytest.mark.parametrize("bad", [math.nan, math.inf, "1000", True, None])
def test_timestamp_must_be_a_finite_number(bad: Any) -> None:
    with pytest.raises(ReportError, match="timestamp"):
        process_report(None, bad, [])


def test_report_error_is_a_value_error() -> None:
    assert issubclass(ReportError, ValueError)


def test_a_transport_naming_its_pair_with_a_list_names_none() -> None:
    """A malformed selectedCandidatePairId is no pair, not a crash (was a TypeError: 500)."""
    t, report = first()
    for stats in report:
        if stats["type"] == "transport":
            stats["selectedCandidatePairId"] = ["CP1"]
    _, state = process_report(None, t, report)
    sample, _ = process_report(state, t + 5000, report)
    assert sample is not None


def test_an_integer_beyond_a_float_is_an_invalid_number_not_a_crash() -> None:
    """A dump's JSON may hold any integer (the standard parser reads them); 10**400 in a
    counter or as the timestamp is a ReportError naming the field (was an OverflowError)."""
    t, report = first()
    inbound = next(s for s in report if s["type"] in ("inbound-rtp", "outbound-rtp"))
    inbound["packetsSent" if "packetsSent" in inbound else "packetsReceived"] = 10**400
    with pytest.raises(ReportError, match="must be a number"):
        process_report(None, t, report)
    with pytest.raises(ReportError, match="timestamp must be finite"):
        process_report(None, 10**400, first()[1])
