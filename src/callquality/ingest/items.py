"""An ingest item once validated: where it belongs, and its report or sample."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from callquality.domain.client import ClientInfo
from callquality.domain.sample import Sample

DEFAULT_PEER_CONNECTION = "default"


@dataclass(frozen=True, slots=True)
class IngestItem:
    """One element of a ``POST /v2/stats`` body (CONTRACT.md, Ingest)."""

    index: int  # position in the request, for error messages
    room_id: str
    participant_id: str
    timestamp_ms: int
    peer_connection_id: str = DEFAULT_PEER_CONNECTION
    session_id: str | None = None
    custom_room_id: str | None = None
    participant_name: str | None = None
    report: list[Any] | None = None  # dicts, or read_fields.Stats decoded from bytes
    sample: Sample | None = None
    # What the item's ``client`` object says, plus the location the server resolved from the
    # request's address (never the address itself): service/clients.py stores it.
    client: ClientInfo | None = None

    @property
    def stream_key(self) -> tuple[str, str]:
        """The (participant, peer connection) whose counters this item continues."""
        return (self.participant_id, self.peer_connection_id)
