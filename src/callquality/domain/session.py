"""A session (CONTRACT.md: Rooms, sessions, participants): one class for reading and ingest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["ongoing", "ended"]


@dataclass(slots=True)
class Session:
    """A session row. Ingest moves its bounds while it assigns a batch (``is_new`` and
    ``touched`` say what the store must write); readers use it as it was read."""

    session_id: str
    api_key: str
    room_id: str
    custom_room_id: str | None
    start_ms: int
    last_report_ms: int
    end_ms: int | None
    rollup_origin_ms: int | None = None  # None: the session has no rollups (store/schema.py)
    is_new: bool = False
    touched: bool = False

    def status(self, now_ms: int, idle_timeout_s: int) -> Status:
        """'ended' once ended explicitly or idle for longer than the idle timeout."""
        if self.end_ms is not None or now_ms - self.last_report_ms > idle_timeout_s * 1000:
            return "ended"
        return "ongoing"

    def ended_at(self, now_ms: int, idle_timeout_s: int) -> int | None:
        """When the session ended (its last report, when it ended by idling), or None."""
        if self.status(now_ms, idle_timeout_s) == "ongoing":
            return None
        return self.end_ms if self.end_ms is not None else self.last_report_ms

    def still_present(
        self, timelog: list[tuple[int, int]], now_ms: int, idle_timeout_s: int, gap_s: int
    ) -> bool:
        """Whether a participant with this timelog is still in the ongoing session."""
        return (
            self.status(now_ms, idle_timeout_s) == "ongoing"
            and bool(timelog)
            and now_ms - timelog[-1][1] <= gap_s * 1000
        )
