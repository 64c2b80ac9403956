"""The stats time series as CSV, one row per bucket, nested keys flattened with dots."""

from __future__ import annotations

import csv
import io
from typing import Any


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else k, v, out)
    else:
        out[prefix] = value


def stats_csv(stats: list[dict[str, Any]]) -> str:
    """CSV text with a header row; empty cells where a value is null."""
    rows = []
    for entry in stats:
        flat: dict[str, Any] = {}
        _flatten("", entry, flat)
        rows.append(flat)
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns or ["time"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
