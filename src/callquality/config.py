"""One settings object, filled from the environment and CLI flags.

Every setting is a row of ``SETTINGS`` (name, default, help): the CLI help, ``docs/api.md``
and the tests read the same table.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_DATA_DIR = Path("data")


@dataclass(frozen=True)
class Settings:
    """Runtime settings; environment variable = field name upper-cased."""

    database_url: str = ""  # empty: SQLite file in data_dir
    data_dir: str = str(DEFAULT_DATA_DIR)
    idle_timeout_s: int = 300
    participant_gap_s: int = 30
    retention_days: int = 30
    max_body_bytes: int = 5 * 1024 * 1024
    max_batch_items: int = 1000
    max_import_bytes: int = 200 * 1024 * 1024
    rate_limit_per_s: float = 0.0  # requests per second per API key; 0 = unlimited
    rate_limit_burst: int = 0  # 0 = 2 × rate
    log_level: str = "info"
    token_leeway_s: int = 30
    web_concurrency: int = 1  # worker processes (uvicorn's own variable)

    @property
    def resolved_database_url(self) -> str:
        """The SQLAlchemy URL: DATABASE_URL, or a SQLite file in the data directory."""
        if self.database_url:
            url = self.database_url
            if url.startswith("postgres://"):
                url = "postgresql://" + url[len("postgres://") :]
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            return url
        return f"sqlite:///{Path(self.data_dir) / 'callquality.db'}"

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given non-None values replaced."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


SETTINGS_HELP: dict[str, str] = {
    "database_url": "postgresql://user@host/db for PostgreSQL; empty for SQLite in DATA_DIR",
    "data_dir": "directory of the SQLite database file",
    "idle_timeout_s": "a session with no report for this long is ended; the next report opens "
    "a new one",
    "participant_gap_s": "a participant silent for longer than this has left (new timelog entry)",
    "retention_days": "samples older than this are purged",
    "max_body_bytes": "largest accepted request body (413 above)",
    "max_batch_items": "largest number of items in one POST /v2/stats",
    "max_import_bytes": "largest dump file accepted by POST /v2/sessions/import",
    "rate_limit_per_s": "requests per second allowed per API key (429 above); 0 disables",
    "rate_limit_burst": "burst size of the per-key rate limit; 0 means twice the rate",
    "log_level": "debug, info, warning or error",
    "token_leeway_s": "clock skew tolerated on exp/iat",
    "web_concurrency": "worker processes serving one port (uvicorn's variable; serve --workers "
    "sets it); above 1, a worker closes an ingest answer's connection at most every 0.2 s, "
    "so that clients' connections spread over the workers",
}


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from the environment (``DATABASE_URL``, ``RETENTION_DAYS``...) and overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(Settings):
        raw = env.get(f.name.upper())
        if raw is None or raw == "":
            continue
        kind = type(getattr(Settings, f.name))
        try:
            values[f.name] = kind(raw)
        except ValueError as exc:
            raise ValueError(f"{f.name.upper()}={raw!r} is not a valid {kind.__name__}") from exc
    return Settings(**values).with_overrides(**overrides)
