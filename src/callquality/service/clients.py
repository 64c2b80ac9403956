"""Client info of a request's items, per participant: what each ``client`` object said, the
location resolved from the request's address, and the connection of the newest raw report
with a selected candidate pair (docs/api.md, "Client info")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from callquality.domain.client import ClientInfo
from callquality.ingest.client import connection_of
from callquality.ingest.items import IngestItem


def with_location(items: list[IngestItem], where: ClientInfo | None) -> list[IngestItem]:
    """The items, each carrying the location of the request they came in."""
    if where is None:
        return items
    return [
        replace(i, client=where if i.client is None else i.client.merged(where)) for i in items
    ]


def participant_clients(
    by_session: Mapping[str, Sequence[IngestItem]],
) -> dict[tuple[str, str], ClientInfo]:
    """{(session, participant): what the items say}; items of a session in timestamp order,
    a later item's known values over an earlier's."""
    out: dict[tuple[str, str], ClientInfo] = {}
    connected: set[tuple[str, str]] = set()
    for session_id, items in by_session.items():
        for item in items:
            if item.client is not None:
                key = (session_id, item.participant_id)
                out[key] = out[key].merged(item.client) if key in out else item.client
        # The newest report's connection only: the pair selected last is the one in use.
        for item in reversed(items):
            key = (session_id, item.participant_id)
            if item.report is None or key in connected:
                continue
            connection = connection_of(item.report)
            if connection is not None:
                connected.add(key)
                out[key] = out[key].merged(connection) if key in out else connection
    return {k: v for k, v in out.items() if not v.is_empty()}
