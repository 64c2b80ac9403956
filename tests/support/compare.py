"""Comparing answers computed in another order: floats to 9 significant digits."""

from __future__ import annotations

from typing import Any


def rounded(value: Any) -> Any:
    """``value`` with every float to 9 significant digits (SQLite and PostgreSQL, or two
    orders of arrival, sum in different orders and differ in the last bits)."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value
