"""The body's fast path (msgspec Structs, issue 19) answers as the pydantic models do.

``parse_body`` decodes a body into ``ItemBytes`` and, when they take it, builds the items
from them without the models. Whatever the body, its outcome (the items, or the error's
message) must be that of ``parse_items`` on the same body as plain JSON: the Structs may
refuse more (the models then name the error), never accept more or read otherwise.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

import msgspec
import orjson
import pytest
from conftest import FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st

from callquality.api.ingest_models import ItemBytes, parse_body, parse_items
from callquality.domain.errors import InvalidInput
from callquality.ingest.rtcstats import ReportError, stats_of

SNAPSHOT = orjson.loads((FIXTURES / "chromium-156-loopback-getstats.json").read_bytes())[1]
NOW_MS = SNAPSHOT["t"] + 1000
CLIENT = {
    "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "userAgentData": {
        "brands": [{"brand": "Chromium", "version": "126"}],
        "fullVersionList": [{"brand": "Chromium", "version": "126.0.6478.126"}],
        "mobile": False, "platform": "Linux", "platformVersion": "6.5.0", "model": "",
        "architecture": "x86", "bitness": "64", "wow64": False, "uaFullVersion": "126.0",
        "formFactors": ["Desktop"],
    },
    "sdkName": "callquality-collector", "sdkVersion": "1.0", "appName": "app",
    "appVersion": "2", "deviceType": "desktop", "deviceModel": "x", "osName": "Linux",
    "osVersion": "6", "networkType": "wifi",
}
DIRECTION = {
    "packets": 250, "packetsLost": 2, "bitrateBps": 32000, "rttMs": 41.5, "jitterMs": 3,
    "width": 640, "height": 480, "frameRate": 30, "freezeCount": 0, "freezeDurationMs": 0,
    "concealedRatio": 0.01, "qualityLimitationReason": "none",
    "availableOutgoingBitrateBps": 1e6,
}
REPORT_ITEM = {
    "roomId": "room-1", "sessionId": "s-1", "customRoomId": "daily", "participantId": "p1",
    "participantName": "Ann", "peerConnectionId": "pc1", "client": CLIENT,
    "timestamp": SNAPSHOT["t"], "report": SNAPSHOT["a"],
}
SAMPLE_ITEM = {
    "roomId": "room-1", "participantId": "p2", "timestamp": SNAPSHOT["t"],
    "sample": {"intervalMs": 5000, "audio": {"send": DIRECTION, "recv": DIRECTION},
               "video": {"send": DIRECTION}, "codec": {"audio": "opus", "video": "VP8"}},
}

# Values at and beyond each kind of constraint, of the JSON types a sender may get wrong.
TRICKY: list[Any] = [
    None, True, False, 0, -1, 1, 0.5, 1.0, -0.0, 2**32 - 1, 2**32, 16_384, 16_385, 1_000,
    1_000.5, 1e11, 1.0000001e11, 3_600_000, 3_600_000.5, 3_600_001, 946_684_800_000,
    946_684_799_999, 4_102_444_800_000.0, 4_102_444_800_001, 2**53, 2**64, 10**30, 1e308,
    "", "a", "a\n", "a\nb", "\n", "a\x00", "a\x7f", "é", "x" * 32, "x" * 33, "x" * 48,
    "x" * 49, "x" * 64, "x" * 65, "x" * 128, "x" * 129, "x" * 200, "x" * 201, "x" * 1025,
    "a b", "a:b.c-d_e", "5000", [], [1], {}, {"brand": "b", "version": "1"},
    [{"brand": "b", "version": "1"}] * 17, ["Desktop"] * 16, ["Desktop"] * 17,
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path into the item (its report's stats excepted: test_typed_decoding)."""
    out = []
    if isinstance(value, dict):
        for key, inner in value.items():
            out.append((*prefix, key))
            if key != "report":
                out += _paths(inner, (*prefix, key))
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        out += _paths(value[0], (*prefix, 0))
    return out


PATHS = [("report", p) for p in _paths(REPORT_ITEM)] + [("sample", p) for p in _paths(SAMPLE_ITEM)]


def _outcome(parse: Any) -> Any:
    """The items (their reports as the reader's Structs), or the error's message."""
    try:
        items = parse()
    except InvalidInput as exc:
        return ("error", str(exc))
    return ("ok", [replace(i, report=_read(i.report)) for i in items])


def _read(report: list[Any] | None) -> Any:
    try:
        return stats_of(report) if report is not None else None
    except ReportError:  # refused later, by the ingest; as given, then
        return report


def _same_outcome(body: Any, max_items: int = 10) -> None:
    raw = json.dumps(body).encode()  # orjson refuses integers beyond 64 bits
    fast = _outcome(lambda: parse_body(raw, max_items, latest_timestamp_ms=NOW_MS))
    try:
        plain = orjson.loads(raw)
    except orjson.JSONDecodeError:
        assert fast[0] == "error" and fast[1].startswith("body: not valid JSON")
        return
    assert fast == _outcome(lambda: parse_items(plain, max_items, latest_timestamp_ms=NOW_MS))


def _edited(base: dict[str, Any], path: tuple[Any, ...], value: Any, drop: bool) -> Any:
    item = copy.deepcopy(base)
    inner = item
    for key in path[:-1]:
        inner = inner[key]
    if drop:
        del inner[path[-1]]
    else:
        inner[path[-1]] = value
    return item


@pytest.mark.parametrize("base", [REPORT_ITEM, SAMPLE_ITEM], ids=["report", "sample"])
def test_a_valid_item_is_built_from_the_structs_as_from_the_models(base: Any) -> None:
    msgspec.json.decode(orjson.dumps(base), type=ItemBytes)  # the fast path takes it
    _same_outcome(base)
    _same_outcome([base, base])


@pytest.mark.parametrize(
    ("kind", "path"), PATHS, ids=[".".join(map(str, (k, *p))) for k, p in PATHS]
)
def test_every_tricky_value_of_every_field_gives_the_models_answer(
    kind: str, path: tuple[Any, ...]
) -> None:
    base = REPORT_ITEM if kind == "report" else SAMPLE_ITEM
    _same_outcome(_edited(base, path, None, drop=True))
    for value in TRICKY:
        _same_outcome(_edited(base, path, value, drop=False))


@pytest.mark.parametrize(
    "body",
    [
        [],
        [REPORT_ITEM] * 11,
        {**REPORT_ITEM, "sample": SAMPLE_ITEM["sample"]},
        {**REPORT_ITEM, "report": None},
        {**REPORT_ITEM, "report": []},
        {**REPORT_ITEM, "timestamp": NOW_MS + 1},
        {**REPORT_ITEM, "unknown": 1},
        {"room_id": "r", "participant_id": "p", "timestamp": SNAPSHOT["t"], "report": []},
        [REPORT_ITEM, {**SAMPLE_ITEM, "timestamp": "now"}],
        "item",
        3,
    ],
    ids=["empty", "too-many", "both-payloads", "no-payload", "empty-report", "ahead",
         "unknown-field", "snake-case", "second-invalid", "string", "number"],
)
def test_a_body_the_models_judge_on_the_whole_gives_their_answer(body: Any) -> None:
    _same_outcome(body)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["report", "sample"]),
       st.lists(st.tuples(st.sampled_from(PATHS), st.sampled_from(TRICKY), st.booleans()),
                max_size=4))
def test_any_few_fields_changed_at_once_give_the_models_answer(
    kind: str, edits: list[tuple[tuple[str, tuple[Any, ...]], Any, bool]]
) -> None:
    item: Any = REPORT_ITEM if kind == "report" else SAMPLE_ITEM
    for (edited_kind, path), value, drop in edits:
        if edited_kind != kind:
            continue
        try:
            item = _edited(item, path, value, drop)
        except (KeyError, IndexError, TypeError):
            continue  # a path into a part an earlier edit replaced
    _same_outcome(item)
