"""The JSON of ``POST /v2/stats`` and its validation into domain items.

camelCase exists only here, at the boundary; the domain gets snake_case dataclasses.
Numbers are strict: a JSON number within its bound (``domain/bounds.py``), never a string
or a boolean. An error names the item as ``items[i]``, whether the body is one item or a
list, and lists every wrong field (up to ``MAX_LISTED_ERRORS``).
"""

from __future__ import annotations

import copy
from typing import Annotated, Any, Literal

import msgspec
import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from callquality.api.client_models import (
    BytesStruct,
    ClientBytes,
    ClientIn,
    client_info,
    search_pattern,
)
from callquality.domain.bounds import (
    BITRATE_MAX_BPS,
    COUNT_MAX,
    COUNTER_MAX,
    DURATION_MAX_MS,
    DURATION_MAX_S,
    FRAME_RATE_MAX,
    PIXELS_MAX,
)
from callquality.domain.errors import InvalidInput
from callquality.domain.sample import DirectionStats, MediaStats, Sample
from callquality.ingest.items import DEFAULT_PEER_CONNECTION, IngestItem
from callquality.ingest.read_fields import REPORT

# Epoch milliseconds between 2000-01-01 and 2100-01-01: catches seconds sent for milliseconds.
# The upper end that applies is the server's clock plus MAX_CLOCK_SKEW_S (parse_items).
MIN_TIMESTAMP_MS = 946_684_800_000
MAX_TIMESTAMP_MS = 4_102_444_800_000
MAX_LISTED_ERRORS = 5
# Client-chosen session ids leave room for the tenant's suffix (domain/session_ids.py).
SESSION_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,48}$"
# Printable: PostgreSQL text cannot hold NUL, and control characters in ids are mistakes.
ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"
ID_MAX_LENGTH = 200

Count = Annotated[int, Field(strict=True, ge=0, le=COUNT_MAX - 1)]
Pixels = Annotated[int, Field(strict=True, ge=0, le=PIXELS_MAX)]
Bitrate = Annotated[float, Field(strict=True, ge=0, le=BITRATE_MAX_BPS)]
DurationMs = Annotated[float, Field(strict=True, ge=0, le=DURATION_MAX_MS)]
FrameRate = Annotated[float, Field(strict=True, ge=0, le=FRAME_RATE_MAX)]
Ratio = Annotated[float, Field(strict=True, ge=0, le=1)]
Id = Annotated[str, Field(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
SessionId = Annotated[str, Field(pattern=SESSION_ID_PATTERN)]
_NAME_PATTERN = r"^[^\x00]*$"  # a participant's name: anything but NUL
Timestamp = Annotated[
    float, Field(ge=MIN_TIMESTAMP_MS, le=MAX_TIMESTAMP_MS, strict=True, description="epoch ms")
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


class DirectionIn(_Strict):
    packets: Count | None = None
    packets_lost: Count | None = Field(None, alias="packetsLost")
    bitrate_bps: Bitrate | None = Field(None, alias="bitrateBps")
    rtt_ms: DurationMs | None = Field(None, alias="rttMs")
    jitter_ms: DurationMs | None = Field(None, alias="jitterMs")
    width: Pixels | None = None
    height: Pixels | None = None
    frame_rate: FrameRate | None = Field(None, alias="frameRate")
    freeze_count: Count | None = Field(None, alias="freezeCount")
    freeze_duration_ms: DurationMs | None = Field(None, alias="freezeDurationMs")
    concealed_ratio: Ratio | None = Field(None, alias="concealedRatio")
    quality_limitation_reason: Annotated[str, Field(max_length=32)] | None = Field(
        None, alias="qualityLimitationReason"
    )
    available_outgoing_bitrate_bps: Bitrate | None = Field(
        None, alias="availableOutgoingBitrateBps"
    )


class MediaIn(_Strict):
    send: DirectionIn | None = None
    recv: DirectionIn | None = None


class CodecIn(_Strict):
    audio: Annotated[str, Field(max_length=32)] | None = None
    video: Annotated[str, Field(max_length=32)] | None = None


class SampleIn(_Strict):
    interval_ms: Annotated[int, Field(gt=0, le=int(DURATION_MAX_MS), strict=True)] = Field(
        alias="intervalMs"
    )
    audio: MediaIn | None = None
    video: MediaIn | None = None
    codec: CodecIn | None = None


class _ItemFields(_Strict):
    """The fields every item has, whichever its payload."""

    room_id: Id = Field(alias="roomId")
    session_id: SessionId | None = Field(None, alias="sessionId")
    custom_room_id: Id | None = Field(None, alias="customRoomId")
    participant_id: Id = Field(alias="participantId")
    participant_name: Annotated[
        str, Field(max_length=ID_MAX_LENGTH, pattern=_NAME_PATTERN)
    ] | None = Field(None, alias="participantName")
    peer_connection_id: Id | None = Field(None, alias="peerConnectionId")
    client: ClientIn | None = None  # api/client_models.py
    timestamp: Timestamp


class ItemIn(_ItemFields):
    """What parse_items validates: one of ``report`` or ``sample``."""

    # Only "a list" here: its stats objects are checked by ingest.report (ReportError names
    # the stats id and field), and not copying each one halves validation time.
    report: list[Any] | None = None
    sample: SampleIn | None = None

    @model_validator(mode="after")
    def _one_payload(self) -> ItemIn:
        if (self.report is None) == (self.sample is None):
            raise ValueError("an item carries exactly one of 'report' (raw getStats()) or 'sample'")
        return self


_ITEMS = TypeAdapter(list[ItemIn])


def _location(loc: tuple[int | str, ...]) -> str:
    parts = list(loc)
    text = f"items[{parts.pop(0)}]" if parts and isinstance(parts[0], int) else "body"
    for p in parts:
        text += f"[{p}]" if isinstance(p, int) else f".{p}"
    return text


def _explain(err: Any) -> str:
    """One validation error as ``<where>: <what and how to fix>``."""
    where = _location(tuple(err["loc"]))
    kind = err["type"]
    given = err.get("input")
    msg = str(err["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        msg = "unknown field; see docs/api.md for the item's fields (names are camelCase)"
    elif kind == "missing":
        msg = "required field is missing"
    elif kind == "model_type":
        msg = "must be an object (an item, or one of its parts); see docs/api.md"
    elif kind in ("int_type", "float_type") and isinstance(given, str | bool):
        msg = f"{msg}: a JSON number, not {'a boolean' if isinstance(given, bool) else 'a string'}"
    elif kind == "int_type" and isinstance(given, float):
        msg = f"{msg}: this field counts, send a whole number"
    elif where.endswith(".timestamp") and kind == "greater_than_equal":
        msg = "timestamp must be epoch milliseconds (13 digits), not seconds"
    elif kind in ("less_than_equal", "less_than") and not where.endswith(".timestamp"):
        msg = f"{msg} (the bounds are in docs/api.md, 'Bounds')"
    return f"{where}: {msg}"


def listed(errors: list[str]) -> str:
    """Error texts joined, the first MAX_LISTED_ERRORS of them, and how many more there are."""
    shown = "; ".join(errors[:MAX_LISTED_ERRORS])
    more = len(errors) - MAX_LISTED_ERRORS
    return shown + (f" (and {more} more errors)" if more > 0 else "")


# The fast path (issue 19): the item as msgspec Structs, each the twin of the model above
# with the same constraints, so that a body they decode from its bytes (its report's stats
# typed too: read_fields.py) is valid as it stands and needs no pydantic pass. They are
# stricter where that is simpler (snake_case names, which the models also accept): a body
# they refuse is parsed as plain JSON and validated by the models, which name its error.
# tests/api/test_fast_path.py holds the two to the same answers. Python's re.search reads
# ``$`` as "at the end or before a final newline", pydantic's (Rust) regex as "at the end":
# the Structs' patterns end in \Z.


_CountB = Annotated[int, msgspec.Meta(ge=0, le=COUNT_MAX - 1)]
_PixelsB = Annotated[int, msgspec.Meta(ge=0, le=PIXELS_MAX)]
_BitrateB = Annotated[float, msgspec.Meta(ge=0, le=BITRATE_MAX_BPS)]
_DurationMsB = Annotated[float, msgspec.Meta(ge=0, le=DURATION_MAX_MS)]
_FrameRateB = Annotated[float, msgspec.Meta(ge=0, le=FRAME_RATE_MAX)]
_RatioB = Annotated[float, msgspec.Meta(ge=0, le=1)]
_NameB = Annotated[str, msgspec.Meta(max_length=32)]
_IdB = Annotated[
    str, msgspec.Meta(min_length=1, max_length=ID_MAX_LENGTH, pattern=search_pattern(ID_PATTERN))
]


class DirectionBytes(BytesStruct):
    packets: _CountB | None = None
    packets_lost: _CountB | None = None
    bitrate_bps: _BitrateB | None = None
    rtt_ms: _DurationMsB | None = None
    jitter_ms: _DurationMsB | None = None
    width: _PixelsB | None = None
    height: _PixelsB | None = None
    frame_rate: _FrameRateB | None = None
    freeze_count: _CountB | None = None
    freeze_duration_ms: _DurationMsB | None = None
    concealed_ratio: _RatioB | None = None
    quality_limitation_reason: _NameB | None = None
    available_outgoing_bitrate_bps: _BitrateB | None = None


class MediaBytes(BytesStruct):
    send: DirectionBytes | None = None
    recv: DirectionBytes | None = None


class CodecBytes(BytesStruct):
    audio: _NameB | None = None
    video: _NameB | None = None


class SampleBytes(BytesStruct):
    interval_ms: Annotated[int, msgspec.Meta(gt=0, le=int(DURATION_MAX_MS))]
    audio: MediaBytes | None = None
    video: MediaBytes | None = None
    codec: CodecBytes | None = None


class ItemBytes(BytesStruct):
    """ItemIn's twin; exactly one of report and sample is checked by parse_body."""

    room_id: _IdB
    participant_id: _IdB
    timestamp: Annotated[float, msgspec.Meta(ge=MIN_TIMESTAMP_MS, le=MAX_TIMESTAMP_MS)]
    session_id: Annotated[str, msgspec.Meta(pattern=search_pattern(SESSION_ID_PATTERN))] | None = (
        None
    )
    custom_room_id: _IdB | None = None
    participant_name: Annotated[
        str, msgspec.Meta(max_length=ID_MAX_LENGTH, pattern=search_pattern(_NAME_PATTERN))
    ] | None = None
    peer_connection_id: _IdB | None = None
    client: ClientBytes | None = None
    report: REPORT | None = None
    sample: SampleBytes | None = None


_BODY = msgspec.json.Decoder(list[ItemBytes] | ItemBytes)


def parse_body(
    raw: bytes, max_items: int, *, latest_timestamp_ms: float | None = None
) -> list[IngestItem]:
    """A request body's bytes (one item or a list, JSON) validated into items.

    One pass decodes the bytes into the Structs above, which check what the models check
    (issue 19); a body they refuse (an unknown field, a stats type or number the reader
    would refuse or does not know, JSON that is not, anything invalid) is parsed as plain
    JSON instead and validated by ``parse_items``, which names its error as always.
    """
    try:
        decoded = _BODY.decode(raw)
    except msgspec.DecodeError:  # msgspec.ValidationError too
        pass
    else:
        items = decoded if isinstance(decoded, list) else [decoded]
        if 0 < len(items) <= max_items and all(
            (i.report is None) != (i.sample is None) for i in items
        ):
            _refuse_ahead([i.timestamp for i in items], latest_timestamp_ms)
            return [_ingest_item(i, item) for i, item in enumerate(items)]
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            f"body: not valid JSON ({exc}); NaN and Infinity are not JSON, send null"
        ) from exc
    return parse_items(body, max_items, latest_timestamp_ms=latest_timestamp_ms)


def _refuse_ahead(timestamps: list[float], latest_timestamp_ms: float | None) -> None:
    """InvalidInput for the items whose timestamp is past the newest accepted."""
    if latest_timestamp_ms is None:
        return
    ahead = [
        f"items[{i}].timestamp: {timestamp:.0f} is "
        f"{(timestamp - latest_timestamp_ms) / 1000:.0f} s past the newest accepted "
        "(the server's clock plus MAX_CLOCK_SKEW_S); send epoch milliseconds from a "
        "synchronised clock"
        for i, timestamp in enumerate(timestamps)
        if timestamp > latest_timestamp_ms
    ]
    if ahead:
        raise InvalidInput(listed(ahead))


def _direction(d: DirectionIn | DirectionBytes | None) -> DirectionStats | None:
    if d is None:
        return None
    if isinstance(d, DirectionBytes):
        return DirectionStats(**msgspec.structs.asdict(d))
    return DirectionStats(**d.model_dump(by_alias=False))


def _media(m: MediaIn | MediaBytes | None) -> MediaStats | None:
    if m is None or (m.send is None and m.recv is None):
        return None
    return MediaStats(send=_direction(m.send), recv=_direction(m.recv))


def _sample(s: SampleIn | SampleBytes) -> Sample:
    return Sample(
        interval_ms=s.interval_ms,
        audio=_media(s.audio),
        video=_media(s.video),
        codec_audio=s.codec.audio if s.codec else None,
        codec_video=s.codec.video if s.codec else None,
    )


def _ingest_item(index: int, item: ItemIn | ItemBytes) -> IngestItem:
    return IngestItem(
        index=index,
        room_id=item.room_id,
        participant_id=item.participant_id,
        timestamp_ms=round(item.timestamp),
        peer_connection_id=item.peer_connection_id or DEFAULT_PEER_CONNECTION,
        session_id=item.session_id,
        custom_room_id=item.custom_room_id,
        participant_name=item.participant_name,
        report=item.report,
        sample=_sample(item.sample) if item.sample is not None else None,
        client=client_info(item.client),
    )


def parse_items(
    body: Any, max_items: int, *, latest_timestamp_ms: float | None = None
) -> list[IngestItem]:
    """Validate a request body (one item or a list) into items; InvalidInput names the field.

    ``latest_timestamp_ms``: the newest timestamp accepted (the server's clock plus the
    allowed skew); later ones are errors.
    """
    items = body if isinstance(body, list) else [body]
    if not isinstance(body, list | dict):
        raise InvalidInput("body: send one item (a JSON object) or a list of items")
    if not items:
        raise InvalidInput("body: the body is an empty list; send one item or a list of items")
    if len(items) > max_items:
        raise InvalidInput(
            f"body: the body has {len(items)} items; send at most {max_items} per request"
        )
    try:
        parsed = _ITEMS.validate_python(items)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise InvalidInput(listed([_explain(e) for e in errors])) from exc
    _refuse_ahead([item.timestamp for item in parsed], latest_timestamp_ms)
    return [_ingest_item(i, item) for i, item in enumerate(parsed)]


# The OpenAPI side: the same fields, with the two payloads as two shapes of item and the
# RTCStats dictionaries described, so that a generator (schemathesis) builds bodies that
# reach ingest. Parsing does not use these models.

_StatsNumber = Annotated[float, Field(ge=0, lt=COUNTER_MAX)]
_StatsSeconds = Annotated[float, Field(ge=0, le=DURATION_MAX_S)]


class RTCStatsDoc(BaseModel):
    """One W3C webrtc-stats dictionary (https://www.w3.org/TR/webrtc-stats/), as a browser
    serialises it; members not listed here are accepted and ignored."""

    model_config = ConfigDict(extra="allow", title="RTCStats")
    id: Annotated[str, Field(min_length=1)]
    type: Literal[
        "inbound-rtp", "outbound-rtp", "remote-inbound-rtp", "remote-outbound-rtp",
        "candidate-pair", "transport", "codec", "track", "media-source",
    ]
    timestamp: Annotated[float, Field(ge=-COUNTER_MAX, lt=COUNTER_MAX)] | None = None
    kind: Literal["audio", "video"] | None = None
    ssrc: Annotated[int, Field(ge=0, lt=2**32)] | None = None
    codecId: str | None = None
    mimeType: str | None = None
    packetsSent: _StatsNumber | None = None
    bytesSent: _StatsNumber | None = None
    packetsReceived: _StatsNumber | None = None
    bytesReceived: _StatsNumber | None = None
    packetsLost: Annotated[float, Field(gt=-COUNTER_MAX, lt=COUNTER_MAX)] | None = None
    jitter: _StatsSeconds | None = None
    roundTripTime: _StatsSeconds | None = None
    totalRoundTripTime: _StatsNumber | None = None
    roundTripTimeMeasurements: _StatsNumber | None = None
    frameWidth: Annotated[int, Field(ge=0, le=PIXELS_MAX)] | None = None
    frameHeight: Annotated[int, Field(ge=0, le=PIXELS_MAX)] | None = None
    framesPerSecond: Annotated[float, Field(ge=0, le=FRAME_RATE_MAX)] | None = None
    selectedCandidatePairId: str | None = None
    currentRoundTripTime: _StatsSeconds | None = None


class ReportItem(_ItemFields):
    """An item carrying a raw getStats() report."""

    model_config = ConfigDict(title="ReportItem")
    report: list[RTCStatsDoc] = Field(description="[...(await pc.getStats()).values()]")


class SampleItem(_ItemFields):
    """An item carrying a sample its sender computed, of the interval ending at timestamp."""

    model_config = ConfigDict(title="SampleItem")
    sample: SampleIn


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """The schema with every local ``$ref`` replaced by its definition (none is recursive)."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(copy.deepcopy(defs[ref.removeprefix("#/$defs/")]), defs)
        return {k: _inline(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline(v, defs) for v in schema]
    return schema


def ingest_body_schema() -> dict[str, Any]:
    """The JSON schema of a POST /v2/stats body (one item, or a list of up to
    MAX_BATCH_ITEMS), self-contained (no references)."""
    item = TypeAdapter(ReportItem | SampleItem).json_schema(by_alias=True)
    one = _inline({k: v for k, v in item.items() if k != "$defs"}, item.get("$defs", {}))
    one = {"oneOf": one.pop("anyOf"), **one}
    return {
        "oneOf": [
            one,
            {"type": "array", "minItems": 1, "items": one},
        ]
    }
