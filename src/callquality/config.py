"""One settings object, filled from the environment and CLI flags.

Every setting is one field of ``Settings`` (name, type, default, help), listed as rows in
``SETTINGS``: the CLI's option help, ``callquality settings`` and the settings table of
``docs/api.md`` (checked by ``tests/test_docs.py``) all read that table. The environment
variable of a setting is its name upper-cased. This module is the one place that reads
(or, for ``serve``'s worker processes, writes) the environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, get_type_hints

DEFAULT_DATA_DIR = Path("data")
# What DATABASE_URL may be, said in every message about a wrong one.
DATABASE_URL_FORMS = (
    "postgresql://user:password@host:5432/dbname (also postgres:// or "
    "postgresql+psycopg://), sqlite:///path/to/file.db, or unset for SQLite in DATA_DIR"
)
_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
_SQLITE_SCHEMES = ("sqlite", "sqlite+pysqlite")
_PASSWORD = re.compile(r"^([^:/@]+://[^:/@]*):[^@]*@")  # SQLAlchemy's own URL pattern


class DatabaseUrlError(ValueError):
    """DATABASE_URL is not a URL of a database callquality can use (says which forms are)."""


def hide_password(url: str) -> str:
    """The URL with its password replaced by ``***``, for messages and banners."""
    return _PASSWORD.sub(r"\1:***@", url)


def normalise_database_url(raw: str) -> str:
    """The SQLAlchemy URL of a DATABASE_URL value; DatabaseUrlError names what is wrong."""
    url = raw.strip()
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme in _POSTGRES_SCHEMES and sep:
        return f"postgresql+psycopg://{rest}"
    if scheme in _SQLITE_SCHEMES and sep:
        return url
    shown = hide_password(url)
    if not sep and re.fullmatch(r"[\w.-]+:\d+(/\w*)?", url):  # host:port, no scheme
        problem = (
            "has no scheme; for PostgreSQL write "
            f"postgresql://user:password@{url.split('/', 1)[0]}/dbname"
        )
    elif not sep and url.endswith((".db", ".sqlite", ".sqlite3")):
        problem = f"has no scheme; for a SQLite file write sqlite:///{url}"
    elif not sep:
        problem = "is not a database URL"
    elif scheme.split("+")[0] in ("mysql", "mariadb"):
        problem = "is MySQL or MariaDB, which is not supported (PostgreSQL or SQLite only)"
    else:
        problem = f"has the scheme {scheme}://, which is not supported"
    raise DatabaseUrlError(
        f"DATABASE_URL {shown!r} {problem}. URL forms that work: {DATABASE_URL_FORMS}"
    )


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting: its name, default, type and what it does."""

    name: str
    default: Any
    type: type
    help: str


def _setting(default: Any, help_text: str) -> Any:
    return field(default=default, metadata={"help": help_text})


@dataclass(frozen=True)
class Settings:
    """Runtime settings; environment variable = field name upper-cased.

    Each field is one row of the settings table: name, type, default and help.
    """

    database_url: str = _setting(
        "", "postgresql://user:password@host:5432/db (or postgres://, postgresql+psycopg://) "
        "for PostgreSQL, sqlite:///path/to/file.db; empty for SQLite in DATA_DIR")
    data_dir: str = _setting(str(DEFAULT_DATA_DIR), "directory of the SQLite database file")
    idle_timeout_s: int = _setting(
        300, "a session with no report for this long is ended; the next report opens a new one")
    participant_gap_s: int = _setting(
        30, "a participant silent for longer than this has left (new timelog entry)")
    retention_days: int = _setting(30, "samples older than this are purged")
    summary_retention_days: int = _setting(
        400, "participant-session summaries (fleet analytics) of sessions ended longer ago "
        "than this are purged; keep it above RETENTION_DAYS for a year of trend")
    max_body_bytes: int = _setting(5 * 1024 * 1024, "largest accepted request body (413 above)")
    max_batch_items: int = _setting(1000, "largest number of items in one POST /v2/stats")
    max_import_bytes: int = _setting(
        200 * 1024 * 1024, "largest dump file accepted by POST /v2/sessions/import")
    rate_limit_per_s: float = _setting(
        1000.0, "requests per second allowed per API key in each API process (429 above); "
        "0 disables")
    rate_limit_burst: int = _setting(
        0, "burst size of the per-key request limit; 0 means twice the rate")
    rate_limit_items_per_s: float = _setting(
        1000.0, "ingest items per second allowed per API key in each API process (429 "
        "above), counted with the request limit; 0 disables")
    rate_limit_items_burst: int = _setting(
        0, "burst size of the per-key item limit; 0 means twice the rate, and never less "
        "than MAX_BATCH_ITEMS")
    unknown_key_rate_per_s: float = _setting(
        5.0, "requests per second per client address whose API key is not known here (429 "
        "above, before the database is asked); 0 disables")
    max_clock_skew_s: int = _setting(
        300, "an item timestamped more than this ahead of the server's clock is a 400")
    max_session_span_s: int = _setting(
        86_400, "longest span of a session's reports: a later report opens a new session, an "
        "earlier one (or one for a named session) is a 400")
    max_stats_buckets: int = _setting(
        10_000, "most buckets one stats read returns; a smaller interval is a 400 naming the "
        "smallest that fits")
    metrics_token: str = _setting(
        "", "bearer token of GET /metrics (Authorization: Bearer ...); empty: /metrics is off "
        "(404)")
    metrics_store_figures: bool = _setting(
        False, "/metrics also shows the sessions and samples stored, over all tenants")
    log_level: str = _setting("info", "debug, info, warning or error")
    token_leeway_s: int = _setting(30, "clock skew tolerated on exp/iat")
    trusted_proxies: str = _setting(
        "", "comma-separated addresses or CIDR networks of reverse proxies whose "
        "X-Forwarded-For is believed; empty: the socket peer is the client")
    geoip_city_db: str = _setting(
        "", "path of a MaxMind GeoIP2/GeoLite2 City .mmdb: the client's country, city and "
        "region; empty: 'unknown'")
    geoip_asn_db: str = _setting(
        "", "path of a MaxMind GeoLite2/GeoIP2 ASN .mmdb: the client's ASN and organisation; "
        "empty: 'unknown'")
    web_concurrency: int = _setting(
        1, "worker processes serving one port (uvicorn's variable; serve --workers sets it); "
        "above 1, a busy worker (other ingest requests waiting in it) closes an ingest "
        "answer's connection at most every 0.2 s, so that clients' connections spread over "
        "the workers")
    webhook_allow_private_urls: bool = _setting(
        False, "allow webhook URLs that resolve to loopback, private or link-local addresses "
        "(off: such a URL is a 400, against SSRF)")
    webhook_delivery: bool = _setting(
        True, "this process delivers webhooks and runs the events sweep (off: another does)")
    webhook_timeout_s: float = _setting(10.0, "a webhook attempt's timeout (connect + answer)")
    webhook_retry_base_s: float = _setting(
        10.0, "first retry delay of a failed webhook; doubled per attempt, with jitter")
    webhook_retry_max_s: float = _setting(3600.0, "largest delay between two webhook attempts")
    webhook_retry_window_s: int = _setting(
        86400, "a failing webhook is retried until this long after its first attempt")
    webhook_lease_s: int = _setting(
        60, "how long a process holds an endpoint's queue without renewing its lease")
    webhook_poll_s: float = _setting(0.5, "how often the delivery worker looks for work")
    events_sweep_s: float = _setting(
        5.0, "how often the sweep looks for participants who left, idle sessions and absent "
        "data")
    live_ticket_ttl_s: int = _setting(
        60, "lifetime of a live-view ticket (POST /v2/sessions/{sessionId}/live/ticket)")

    ingest_log: str = _setting(
        "", "nats://host:4222[,nats://host2:4222...]: the API publishes items to this NATS "
        "JetStream and `callquality process` stores them (docs/scaling.md); empty: the API "
        "stores them itself")
    ingest_partitions: int = _setting(
        8, "partitions of the ingest log (subjects cq.ingest.0..N-1); fixed once in use")
    ingest_replicas: int = _setting(
        1, "JetStream replicas of the ingest stream (3 on a 3-node cluster)")
    processor_lease_s: int = _setting(
        6, "a processor's partitions go to another processor this long after it stops "
        "renewing them")

    @property
    def resolved_database_url(self) -> str:
        """The SQLAlchemy URL: DATABASE_URL, or a SQLite file in the data directory.

        Raises ``DatabaseUrlError`` for a URL of no database callquality supports.
        """
        if self.database_url.strip():
            return normalise_database_url(self.database_url)
        return f"sqlite:///{Path(self.data_dir) / 'callquality.db'}"

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the given non-None values replaced."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


_TYPES = get_type_hints(Settings)
SETTINGS: tuple[Setting, ...] = tuple(
    Setting(f.name, f.default, _TYPES[f.name], f.metadata["help"]) for f in fields(Settings)
)
SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_value(setting: Setting, raw: str) -> Any:
    """A setting's value from its environment text; ValueError names the variable."""
    variable = setting.name.upper()
    if setting.type is bool:
        word = raw.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise ValueError(f"{variable}={raw!r} is not a boolean; use true or false")
    try:
        return setting.type(raw)
    except ValueError as exc:
        raise ValueError(
            f"{variable}={raw!r} is not a valid {setting.type.__name__}"
        ) from exc


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from the environment (``DATABASE_URL``, ``RETENTION_DAYS``...) and overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = env.get(setting.name.upper())
        if raw is None or raw == "":
            continue
        values[setting.name] = parse_value(setting, raw)
    return Settings(**values).with_overrides(**overrides)


def export_to_environment(settings: Settings) -> None:
    """Put settings where ``serve``'s worker processes read them (the environment)."""
    for f in fields(settings):
        os.environ[f.name.upper()] = str(getattr(settings, f.name))


def settings_markdown() -> str:
    """The settings table of docs/api.md (kept equal to it by tests/test_docs.py)."""
    lines = ["| variable | type | default | |", "|---|---|---|---|"]
    for s in SETTINGS:
        lines.append(f"| `{s.name.upper()}` | {s.type.__name__} | `{s.default!r}` | {s.help} |")
    return "\n".join(lines) + "\n"
