"""Comparing our answers with VideoSDK's documented ones: key by key, JSON type by JSON type."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from conftest import SHARED

VIDEOSDK = SHARED / "seed" / "videosdk-api"


def videosdk_response(name: str, folder: Path = VIDEOSDK) -> dict[str, Any]:
    """The documented response of one endpoint (``../shared/seed/videosdk-api/<name>.json``)."""
    document = json.loads((folder / f"{name}.json").read_text())
    return document["response"]  # type: ignore[no-any-return]


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def shape_differences(
    ours: Any, theirs: Any, *, unknown: frozenset[str] = frozenset(), path: str = "$"
) -> list[str]:
    """Where ``ours`` lacks a key of ``theirs`` or has another JSON type there: nested, each
    element of our arrays against the one of theirs it is closest to. Their ``null`` admits
    a string or null (their nulls are absent times); ``unknown`` paths (``$.chatLink``,
    ``$.participants[].x``) may be null where they have a value: what callquality cannot
    know."""
    theirs_type, ours_type = json_type(theirs), json_type(ours)
    if theirs_type == "null":
        return [] if ours_type in ("null", "string") else [f"{path}: {ours_type}, not null/string"]
    if ours_type == "null" and path in unknown:
        return []
    if ours_type != theirs_type:
        return [f"{path}: {ours_type}, VideoSDK has {theirs_type}"]
    problems: list[str] = []
    if theirs_type == "object":
        for key, value in theirs.items():
            if key not in ours:
                problems.append(f"{path}.{key}: missing")
            else:
                problems += shape_differences(
                    ours[key], value, unknown=unknown, path=f"{path}.{key}"
                )
    elif theirs_type == "array" and theirs:
        if not ours:
            problems.append(f"{path}: empty, VideoSDK has {len(theirs)} elements to compare")
        for element in ours:  # it must match one of their elements (their ends vary: null/time)
            tries = [
                shape_differences(element, t, unknown=unknown, path=f"{path}[]") for t in theirs
            ]
            problems += min(tries, key=len)
    return problems


def links_in(value: Any) -> Iterator[str]:
    """Every URL under a ``links`` key, anywhere in an answer."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "links" and isinstance(inner, dict):
                yield from (v for v in inner.values() if isinstance(v, str))
            else:
                yield from links_in(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from links_in(inner)
