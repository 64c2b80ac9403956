"""The JSON of ``POST /v2/stats`` and its validation into domain items.

camelCase exists only here, at the boundary; the domain gets snake_case dataclasses.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from callquality.api.client_models import ClientIn, client_info
from callquality.domain.errors import InvalidInput
from callquality.domain.sample import DirectionStats, MediaStats, Sample
from callquality.ingest.items import DEFAULT_PEER_CONNECTION, IngestItem

# Epoch milliseconds between 2000-01-01 and 2100-01-01: catches seconds sent for milliseconds.
MIN_TIMESTAMP_MS = 946_684_800_000
MAX_TIMESTAMP_MS = 4_102_444_800_000

NonNegFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
NonNegInt = Annotated[int, Field(ge=0)]
# Printable: PostgreSQL text cannot hold NUL, and control characters in ids are mistakes.
Id = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


class DirectionIn(_Strict):
    packets: NonNegInt | None = None
    packets_lost: NonNegInt | None = Field(None, alias="packetsLost")
    bitrate_bps: NonNegFloat | None = Field(None, alias="bitrateBps")
    rtt_ms: NonNegFloat | None = Field(None, alias="rttMs")
    jitter_ms: NonNegFloat | None = Field(None, alias="jitterMs")
    width: NonNegInt | None = None
    height: NonNegInt | None = None
    frame_rate: NonNegFloat | None = Field(None, alias="frameRate")
    freeze_count: NonNegInt | None = Field(None, alias="freezeCount")
    freeze_duration_ms: NonNegFloat | None = Field(None, alias="freezeDurationMs")
    concealed_ratio: Annotated[float, Field(ge=0, le=1)] | None = Field(
        None, alias="concealedRatio"
    )
    quality_limitation_reason: Annotated[str, Field(max_length=32)] | None = Field(
        None, alias="qualityLimitationReason"
    )
    available_outgoing_bitrate_bps: NonNegFloat | None = Field(
        None, alias="availableOutgoingBitrateBps"
    )


class MediaIn(_Strict):
    send: DirectionIn | None = None
    recv: DirectionIn | None = None


class CodecIn(_Strict):
    audio: Annotated[str, Field(max_length=32)] | None = None
    video: Annotated[str, Field(max_length=32)] | None = None


class SampleIn(_Strict):
    interval_ms: Annotated[int, Field(gt=0, le=3_600_000)] = Field(alias="intervalMs")
    audio: MediaIn | None = None
    video: MediaIn | None = None
    codec: CodecIn | None = None


class ItemIn(_Strict):
    room_id: Id = Field(alias="roomId")
    session_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")] | None = Field(
        None, alias="sessionId"
    )
    custom_room_id: Id | None = Field(None, alias="customRoomId")
    participant_id: Id = Field(alias="participantId")
    participant_name: Annotated[str, Field(max_length=200, pattern=r"^[^\x00]*$")] | None = Field(
        None, alias="participantName"
    )
    peer_connection_id: Id | None = Field(None, alias="peerConnectionId")
    client: ClientIn | None = None  # api/client_models.py
    timestamp: Annotated[float, Field(ge=MIN_TIMESTAMP_MS, le=MAX_TIMESTAMP_MS)]
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


def _direction(d: DirectionIn | None) -> DirectionStats | None:
    if d is None:
        return None
    return DirectionStats(**d.model_dump(by_alias=False))


def _media(m: MediaIn | None) -> MediaStats | None:
    if m is None or (m.send is None and m.recv is None):
        return None
    return MediaStats(send=_direction(m.send), recv=_direction(m.recv))


def _sample(s: SampleIn) -> Sample:
    return Sample(
        interval_ms=s.interval_ms,
        audio=_media(s.audio),
        video=_media(s.video),
        codec_audio=s.codec.audio if s.codec else None,
        codec_video=s.codec.video if s.codec else None,
    )


def _location(loc: tuple[int | str, ...], wrapped: bool) -> str:
    parts = list(loc)
    text = ""
    if parts and isinstance(parts[0], int):
        text = f"items[{parts.pop(0)}]" if wrapped else "body"
    for p in parts:
        text += f"[{p}]" if isinstance(p, int) else f".{p}"
    return text.lstrip(".") or "body"


def parse_items(body: Any, max_items: int) -> list[IngestItem]:
    """Validate a request body (one item or a list) into items; InvalidInput names the field."""
    wrapped = isinstance(body, list)
    items = body if wrapped else [body]
    if not items:
        raise InvalidInput("the body is an empty list; send one item or a list of items")
    if len(items) > max_items:
        raise InvalidInput(
            f"the body has {len(items)} items; send at most {max_items} per request"
        )
    try:
        parsed = _ITEMS.validate_python(items)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = _location(tuple(err["loc"]), wrapped)
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field; see docs/api.md for the item's fields (names are camelCase)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        elif "timestamp" in where and err["type"] in ("greater_than_equal", "less_than_equal"):
            msg = "timestamp must be epoch milliseconds (13 digits), not seconds"
        more = f" (and {exc.error_count() - 1} more errors)" if exc.error_count() > 1 else ""
        raise InvalidInput(f"{where}: {msg}{more}") from exc
    return [
        IngestItem(
            index=i,
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
        for i, item in enumerate(parsed)
    ]
