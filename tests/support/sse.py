"""A Server-Sent Events client in a thread (the live view's tests)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx


class Stream:
    """An SSE client in a thread: the events as they arrive, with their arrival time."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.events: list[tuple[str, Any, float]] = []
        self.status: int | None = None
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url, headers), daemon=True)
        self._thread.start()

    def _read(self, url: str, headers: dict[str, str] | None) -> None:
        try:
            with httpx.stream("GET", url, headers=headers, timeout=30) as answer:
                self.status = answer.status_code
                event = None
                for line in answer.iter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event:
                        self.events.append((event, json.loads(line[6:]), time.time()))
        except httpx.HTTPError:
            pass
        finally:
            self.done.set()

    def wait_for(self, kind: str, n: int = 1, timeout_s: float = 10) -> list[Any]:
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            found = [e for e in self.events if e[0] == kind]
            if len(found) >= n:
                return found
            time.sleep(0.02)
        raise AssertionError(f"no {n} {kind!r} events in {timeout_s} s: {self.events}")
