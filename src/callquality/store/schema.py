"""The schema, in SQLAlchemy Core. Alembic migrations (store/migrations) create it.

Each table says in ``info["citus"]`` how a distributed PostgreSQL (Citus) spreads it
(docs/scaling.md, "PostgreSQL at size"): the session's data by ``session_id``, with that
column in every unique key; tenant-wide aggregates by ``api_key``; small configuration read
with everything as reference tables; the webhooks' outbox in one shard (its ``event_id`` is
one sequence, the order deliveries keep). store/citus.py writes the statements and
tests/store/test_citus.py checks the rule on this metadata and on a migrated database.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData()


@dataclass(frozen=True)
class Spread:
    """How Citus spreads a table: hash-distributed by ``column``, or (column None) a copy on
    every node (``reference``) or one shard; ``group``: the tables whose rows of a key (or
    whose one shard) sit on the same node, so that joins among them stay on it."""

    column: str | None
    group: str
    reference: bool = False


BY_SESSION = Spread("session_id", "session")
BY_TENANT = Spread("api_key", "tenant")
REFERENCE = Spread(None, "reference", reference=True)
OUTBOX = Spread(None, "outbox")

KINDS = ("audio", "video")
DIRECTIONS = ("send", "recv")
# The measurements of one kind in one direction, as samples columns <kind>_<direction>_<field>
# (the fields of domain.sample.DirectionStats; tests/store/test_schema.py keeps them equal).
STAT_FIELDS = (
    "packets",
    "packets_lost",
    "bitrate_bps",
    "rtt_ms",
    "jitter_ms",
    "width",
    "height",
    "frame_rate",
    "freeze_count",
    "freeze_duration_ms",
    "concealed_ratio",
    "silent_concealed_ratio",
    "muted_ratio",
    "quality_limitation_reason",
    "available_outgoing_bitrate_bps",
)


def stat_column(kind: str, direction: str, field: str) -> str:
    """The samples column of one field of one kind and direction: ``audio_send_rtt_ms``."""
    return f"{kind}_{direction}_{field}"


api_keys = Table(
    "api_keys",
    metadata,
    Column("api_key", String(64), primary_key=True),
    Column("secret", String(128), nullable=False),
    Column("name", String(200)),
    Column("created_ms", BigInteger, nullable=False),
    Column("revoked_ms", BigInteger),  # set by `callquality keys revoke`; NULL while valid
    Index("ix_api_keys_revoked", "revoked_ms"),
    info={"citus": REFERENCE},
)

sessions = Table(
    "sessions",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("api_key", String(64), nullable=False),
    Column("room_id", String(200), nullable=False),
    Column("custom_room_id", String(200)),
    Column("start_ms", BigInteger, nullable=False),
    Column("last_report_ms", BigInteger, nullable=False),
    Column("end_ms", BigInteger),  # set by POST /v2/sessions/end; NULL while open
    # Where the session's minute rollups start (its start when created); NULL: no rollups
    # (a session created before revision 0002), its stats are computed from samples alone.
    Column("rollup_origin_ms", BigInteger),
    # 1: the session's score inputs are in score_input_rollups from its start; NULL: a session
    # created before revision 0014, whose extended series reads them from the samples.
    Column("input_rollups", Integer),
    # 1: the session's series_rollups are kept from its start; NULL: a session created before
    # revision 0016, whose series at other intervals than 60 s are computed when read.
    Column("series_rollups", Integer),
    Index("ix_sessions_key_start", "api_key", "start_ms"),
    Index("ix_sessions_key_room", "api_key", "room_id", "start_ms"),
    info={"citus": BY_SESSION},
)

participants = Table(
    "participants",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("participant_id", String(200), primary_key=True),
    Column("api_key", String(64), nullable=False),
    Column("name", String(200)),
    info={"citus": BY_SESSION},
)

# What a participant of a session runs on, where it is and how it is connected (the latest
# known value of each field; the client's IP address is never stored: docs/api.md).
participant_clients = Table(
    "participant_clients",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("participant_id", String(200), primary_key=True),
    Column("api_key", String(64), nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Column("browser_name", String(64)),
    Column("browser_version", String(64)),
    Column("os_name", String(64)),
    Column("os_version", String(64)),
    Column("device_type", String(32)),
    Column("device_model", String(128)),
    Column("sdk_name", String(64)),
    Column("sdk_version", String(64)),
    Column("app_name", String(128)),
    Column("app_version", String(64)),
    Column("country", String(8)),
    Column("city", String(128)),
    Column("region", String(128)),
    Column("asn", String(16)),
    Column("org", String(200)),
    Column("candidate_type", String(16)),
    Column("protocol", String(8)),
    Column("relay_protocol", String(8)),
    Column("network_type", String(32)),
    info={"citus": BY_SESSION},
)

participant_intervals = Table(
    "participant_intervals",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("participant_id", String(200), primary_key=True),
    Column("start_ms", BigInteger, primary_key=True),
    Column("end_ms", BigInteger, nullable=False),
    info={"citus": BY_SESSION},
)

# The previous cumulative counters of one (participant, peer connection), for raw reports.
stream_states = Table(
    "stream_states",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("participant_id", String(200), primary_key=True),
    Column("peer_connection_id", String(200), primary_key=True),
    Column("timestamp_ms", BigInteger, nullable=False),
    Column("state", Text, nullable=False),
    info={"citus": BY_SESSION},
)

# What POST /v2/ingest/janus keeps between events of one Janus session (ingest/janus.py): its
# handles, their rooms and previous counters, as JSON. Keyed by the tenant and Janus's own
# session id: the state comes before any callquality session of the rooms it maps to.
janus_states = Table(
    "janus_states",
    metadata,
    Column("api_key", String(64), primary_key=True),
    Column("janus_session_id", String(32), primary_key=True),
    Column("updated_ms", BigInteger, nullable=False),
    Column("state", Text, nullable=False),
    Index("ix_janus_states_updated", "updated_ms"),
    info={"citus": BY_TENANT},
)

# One row per accepted item: the idempotency ledger and the per-interval measurements.
# A raw report that only sets the baseline (the first of a stream) has a row with NULL stats.
samples = Table(
    "samples",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("participant_id", String(200), primary_key=True),
    Column("peer_connection_id", String(200), primary_key=True),
    Column("timestamp_ms", BigInteger, primary_key=True),
    Column("received_ms", BigInteger, nullable=False),
    Column("interval_ms", Integer),
    Column("codec_audio", String(32)),
    Column("codec_video", String(32)),
    Column("audio_mos", Float),
    Column("video_vq", Float),
    Column("score_inputs", Text),
    Column("audio_send_packets", BigInteger),
    Column("audio_send_packets_lost", BigInteger),
    Column("audio_send_bitrate_bps", Float),
    Column("audio_send_rtt_ms", Float),
    Column("audio_send_jitter_ms", Float),
    Column("audio_send_width", BigInteger),
    Column("audio_send_height", BigInteger),
    Column("audio_send_frame_rate", Float),
    Column("audio_send_freeze_count", BigInteger),
    Column("audio_send_freeze_duration_ms", Float),
    Column("audio_send_concealed_ratio", Float),
    Column("audio_send_silent_concealed_ratio", Float),
    Column("audio_send_muted_ratio", Float),
    Column("audio_send_quality_limitation_reason", String(32)),
    Column("audio_send_available_outgoing_bitrate_bps", Float),
    Column("audio_recv_packets", BigInteger),
    Column("audio_recv_packets_lost", BigInteger),
    Column("audio_recv_bitrate_bps", Float),
    Column("audio_recv_rtt_ms", Float),
    Column("audio_recv_jitter_ms", Float),
    Column("audio_recv_width", BigInteger),
    Column("audio_recv_height", BigInteger),
    Column("audio_recv_frame_rate", Float),
    Column("audio_recv_freeze_count", BigInteger),
    Column("audio_recv_freeze_duration_ms", Float),
    Column("audio_recv_concealed_ratio", Float),
    Column("audio_recv_silent_concealed_ratio", Float),
    Column("audio_recv_muted_ratio", Float),
    Column("audio_recv_quality_limitation_reason", String(32)),
    Column("audio_recv_available_outgoing_bitrate_bps", Float),
    Column("video_send_packets", BigInteger),
    Column("video_send_packets_lost", BigInteger),
    Column("video_send_bitrate_bps", Float),
    Column("video_send_rtt_ms", Float),
    Column("video_send_jitter_ms", Float),
    Column("video_send_width", BigInteger),
    Column("video_send_height", BigInteger),
    Column("video_send_frame_rate", Float),
    Column("video_send_freeze_count", BigInteger),
    Column("video_send_freeze_duration_ms", Float),
    Column("video_send_concealed_ratio", Float),
    Column("video_send_silent_concealed_ratio", Float),
    Column("video_send_muted_ratio", Float),
    Column("video_send_quality_limitation_reason", String(32)),
    Column("video_send_available_outgoing_bitrate_bps", Float),
    Column("video_recv_packets", BigInteger),
    Column("video_recv_packets_lost", BigInteger),
    Column("video_recv_bitrate_bps", Float),
    Column("video_recv_rtt_ms", Float),
    Column("video_recv_jitter_ms", Float),
    Column("video_recv_width", BigInteger),
    Column("video_recv_height", BigInteger),
    Column("video_recv_frame_rate", Float),
    Column("video_recv_freeze_count", BigInteger),
    Column("video_recv_freeze_duration_ms", Float),
    Column("video_recv_concealed_ratio", Float),
    Column("video_recv_silent_concealed_ratio", Float),
    Column("video_recv_muted_ratio", Float),
    Column("video_recv_quality_limitation_reason", String(32)),
    Column("video_recv_available_outgoing_bitrate_bps", Float),
    Index("ix_samples_received", "received_ms"),
    # PostgreSQL: one partition per day of timestamp_ms, made and dropped by
    # store/sample_partitions.py (migration 0015); SQLite: a plain table.
    postgresql_partition_by="RANGE (timestamp_ms)",
    info={"citus": BY_SESSION},
)


# Per (participant, peer connection, minute since the session's rollup origin): the sums,
# counts and maxima the stats query's step 1 needs, maintained by ingest in the same
# transaction as the samples (query/stats.py). How each measure rolls up is ROLLUP_MEASURES.
ROLLUP_BUCKET_MS = 60_000
# (rollup column prefix, samples column, how): "sum" -> <p>_sum; "max" -> <p>_max;
# "avg" -> <p>_sum, <p>_n (non-NULL values); "twavg" -> <p>_wsum (value x interval_ms), <p>_w.
ROLLUP_MEASURES: tuple[tuple[str, str, str], ...] = (
    *(
        m
        for kind in KINDS
        for direction in DIRECTIONS
        for m in (
            (f"{kind}_{direction}_packets", stat_column(kind, direction, "packets"), "sum"),
            (f"{kind}_{direction}_lost", stat_column(kind, direction, "packets_lost"), "sum"),
            (f"{kind}_{direction}_bitrate", stat_column(kind, direction, "bitrate_bps"), "twavg"),
            (f"{kind}_{direction}_jitter", stat_column(kind, direction, "jitter_ms"), "avg"),
        )
    ),
    *((f"{kind}_send_rtt", stat_column(kind, "send", "rtt_ms"), "avg") for kind in KINDS),
    *(
        m
        for direction in DIRECTIONS
        for m in (
            (f"video_{direction}_width", stat_column("video", direction, "width"), "max"),
            (f"video_{direction}_height", stat_column("video", direction, "height"), "max"),
            (
                f"video_{direction}_frame_rate",
                stat_column("video", direction, "frame_rate"),
                "avg",
            ),
        )
    ),
    ("video_recv_freezes", stat_column("video", "recv", "freeze_count"), "sum"),
    ("video_recv_freeze_ms", stat_column("video", "recv", "freeze_duration_ms"), "sum"),
    ("audio_recv_concealed", stat_column("audio", "recv", "concealed_ratio"), "avg"),
    ("audio_mos", "audio_mos", "avg"),
    ("video_vq", "video_vq", "avg"),
)


def rollup_columns(name: str, how: str, source_is_int: bool) -> list[tuple[str, str]]:
    """The rollup columns of one measure: [(column, "int" | "float")]."""
    value = "int" if source_is_int else "float"
    if how == "sum":
        return [(f"{name}_sum", value)]
    if how == "max":
        return [(f"{name}_max", value)]
    if how == "avg":
        return [(f"{name}_sum", "float"), (f"{name}_n", "int")]
    return [(f"{name}_wsum", "float"), (f"{name}_w", "int")]


def _rollup_table_columns() -> list[Column[object]]:
    columns: list[Column[object]] = []
    for name, source, how in ROLLUP_MEASURES:
        is_int = isinstance(samples.c[source].type, BigInteger)
        for column, kind in rollup_columns(name, how, is_int):
            columns.append(Column(column, BigInteger() if kind == "int" else Float()))
    return columns


sample_rollups = Table(
    "sample_rollups",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("participant_id", String(200), primary_key=True),
    Column("peer_connection_id", String(200), primary_key=True),
    Column("bucket", BigInteger, primary_key=True),  # (timestamp_ms - origin) // 60 000
    Column("received_ms", BigInteger, nullable=False),  # newest sample's, for retention
    *_rollup_table_columns(),
    Index("ix_sample_rollups_minute", "session_id", "bucket"),  # the ingest's refresh reads
    info={"citus": BY_SESSION},
)

# Per (session, minute since its rollup origin): the stats query's steps 2 and 3 done, i.e.
# each measure summed (<name>__sum) and averaged (<name>__avg) over the participants that had
# it. Rewritten from sample_rollups once a minute is no longer a session's newest (see
# session_rollups_pending); it answers the default 60-s series of a session of any size from
# one row per minute.
session_rollups = Table(
    "session_rollups",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("bucket", BigInteger, primary_key=True),
    Column("received_ms", BigInteger, nullable=False),
    Column("participants", BigInteger, nullable=False),
    *(
        Column(f"{name}__{agg}", Float())
        for name, _, _ in ROLLUP_MEASURES
        for agg in ("sum", "avg")
    ),
    info={"citus": BY_SESSION},
)


# Events and their webhook deliveries (docs/webhooks.md). Tenant configuration (endpoints,
# rules) keys on its own id and the API key; events and alert states carry the session.

# The outbox: every event, written in the transaction that made it happen. ``event_key``
# names the event deterministically (type, session, participant, span), so a second writer
# of the same event (the sweep and an ingest, two processes) inserts nothing.
events = Table(
    "events",
    metadata,
    Column("event_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("event_key", String(600), nullable=False, unique=True),
    Column("api_key", String(64), nullable=False),
    Column("session_id", String(64)),
    Column("participant_id", String(200)),
    Column("webhook_type", String(40), nullable=False),
    Column("occurred_ms", BigInteger, nullable=False),  # when it happened (report time)
    Column("created_ms", BigInteger, nullable=False),  # when it was written (server time)
    Column("data", Text, nullable=False),  # the JSON of the body's "data"
    Column("endpoint_ids", Text),  # JSON list of the only endpoints to notify; NULL: all
    # 1 until the dispatcher has made its deliveries, then NULL.
    Column("undispatched", Integer),
    # 1 on session-started and participant-joined while the sweep must watch for their end.
    Column("watch", Integer),
    Column("span_start_ms", BigInteger),  # participant-joined: the presence interval's start
    Index("ix_events_undispatched", "undispatched", sqlite_where=text("undispatched = 1"),
          postgresql_where=text("undispatched = 1")),
    Index("ix_events_watch", "watch", sqlite_where=text("watch = 1"),
          postgresql_where=text("watch = 1")),
    Index("ix_events_session", "session_id", "webhook_type"),
    Index("ix_events_created", "created_ms"),
    info={"citus": OUTBOX},
)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("endpoint_id", String(40), primary_key=True),
    Column("api_key", String(64), nullable=False),
    Column("url", Text, nullable=False),
    Column("secret", String(100), nullable=False),
    Column("webhook_types", Text, nullable=False),  # JSON list of the types it receives
    Column("description", String(500)),
    Column("enabled", Integer, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    # The delivery lease: one process at a time delivers an endpoint's queue, in order.
    Column("lease_owner", String(64)),
    Column("lease_until_ms", BigInteger),
    Column("blocked_until_ms", BigInteger),  # the queue's head waits for its retry until then
    Index("ix_webhook_endpoints_key", "api_key"),
    info={"citus": OUTBOX},
)

# One row per (endpoint, event): the delivery log and the retry state.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("endpoint_id", String(40), primary_key=True),
    Column("event_id", BigInteger, primary_key=True),
    Column("api_key", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # pending, delivered, failed
    Column("attempts", Integer, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("next_attempt_ms", BigInteger),
    Column("first_attempt_ms", BigInteger),
    Column("last_attempt_ms", BigInteger),
    Column("last_status_code", Integer),
    Column("last_error", String(500)),
    Column("delivered_ms", BigInteger),
    Index("ix_webhook_deliveries_queue", "endpoint_id", "status", "event_id"),
    Index("ix_webhook_deliveries_created", "created_ms"),
    info={"citus": OUTBOX},
)

alert_rules = Table(
    "alert_rules",
    metadata,
    Column("rule_id", String(40), primary_key=True),
    Column("api_key", String(64), nullable=False),
    Column("name", String(200)),
    Column("metric", String(40), nullable=False),
    Column("operator", String(4), nullable=False),
    Column("threshold", Float, nullable=False),
    Column("window_s", Integer, nullable=False),
    Column("hysteresis", Float, nullable=False),
    Column("scope", String(16), nullable=False),  # all, room, participant
    Column("room_id", String(200)),
    Column("participant_id", String(200)),
    Column("severity", String(16), nullable=False),
    Column("endpoint_ids", Text, nullable=False),  # JSON list; empty: every endpoint
    Column("enabled", Integer, nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    Index("ix_alert_rules_key", "api_key"),
    info={"citus": REFERENCE},
)

# Per (rule, session, participant): whether the rule's condition holds now.
alert_states = Table(
    "alert_states",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("participant_id", String(200), primary_key=True),
    Column("rule_id", String(40), primary_key=True),
    Column("api_key", String(64), nullable=False),
    Column("firing", Integer, nullable=False),
    Column("fired_count", Integer, nullable=False),
    Column("fired_ms", BigInteger),
    Column("resolved_ms", BigInteger),
    Column("value", Float),
    Column("judged_ms", BigInteger),  # the end of the newest window judged
    Index("ix_alert_states_firing", "firing", sqlite_where=text("firing = 1"),
          postgresql_where=text("firing = 1")),
    info={"citus": BY_SESSION},
)

# The minutes of sessions whose session_rollups row is not rewritten yet: a session's newest
# minute, which every request of the session adds to. Ingest rewrites a minute once a request
# brings a later one (or late data for it), instead of on every request; the stats query
# computes a pending minute from sample_rollups (store/rollups.py).
session_rollups_pending = Table(
    "session_rollups_pending",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("bucket", BigInteger, primary_key=True),
    info={"citus": BY_SESSION},
)

# Per (session, minute since its rollup origin): each numeric score input summed over the
# minute's measured samples (score_inputs), as JSON {"<input>": [total, count], ...}, added to
# by each ingest. The extended series' mean score inputs of any bucket of whole minutes,
# without reading the samples.
score_input_rollups = Table(
    "score_input_rollups",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("bucket", BigInteger, primary_key=True),
    Column("received_ms", BigInteger, nullable=False),  # newest sample's, for retention
    Column("sums", Text, nullable=False),
    info={"citus": BY_SESSION},
)

# The intervals (s) whose session series are kept done, bucket by bucket, in series_rollups.
SERIES_INTERVALS_S = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
# The extended series' percentiles kept per bucket: (name, samples column).
SERIES_PERCENTILES: tuple[tuple[str, str], ...] = (
    ("audio_rtt", "audio_send_rtt_ms"),
    ("video_rtt", "video_send_rtt_ms"),
    ("audio_jitter", "audio_recv_jitter_ms"),
    ("video_jitter", "video_recv_jitter_ms"),
)

# Per (session, interval of SERIES_INTERVALS_S, bucket of that interval since the session's
# rollup origin): the stats query's steps 1-3 done (the columns of session_rollups), the
# extended series' percentiles of the bucket's samples (<name>_p50, <name>_p95) and, for
# intervals under a minute, its score inputs summed ({"<input>": [total, count]}, the 5-s
# totals by math.fsum, longer ones their sum). Written once a bucket is no longer the
# session's newest at its interval (series_rollups_pending), or when the session ends: a
# session's series at any of these intervals reads one row per bucket.
series_rollups = Table(
    "series_rollups",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("interval_s", Integer, primary_key=True),
    Column("bucket", BigInteger, primary_key=True),
    Column("received_ms", BigInteger, nullable=False),  # newest sample's, for retention
    Column("participants", BigInteger, nullable=False),
    *(
        Column(f"{name}__{agg}", Float())
        for name, _, _ in ROLLUP_MEASURES
        for agg in ("sum", "avg")
    ),
    *(Column(f"{name}_{q}", Float()) for name, _ in SERIES_PERCENTILES for q in ("p50", "p95")),
    Column("score_inputs", Text),
    # Intervals 5 and 60: the bucket's values of each SERIES_PERCENTILES sorted, the longer
    # buckets' percentiles merge them (store/series.py).
    Column("runs", LargeBinary),
    info={"citus": BY_SESSION},
)

# The buckets of series_rollups not written yet: a session's newest at each interval, which
# the session's next requests add to; the stats query computes them when read.
series_rollups_pending = Table(
    "series_rollups_pending",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("interval_s", Integer, primary_key=True),
    Column("bucket", BigInteger, primary_key=True),
    info={"citus": BY_SESSION},
)

# The ingest log's partitions (INGEST_LOG, docs/scaling.md): which processor owns each one
# until when (a lease), and the last stream sequence whose items are stored (the checkpoint,
# written in the same transaction as those items). Operational, not tenant data: a Citus
# reference table.
ingest_partitions = Table(
    "ingest_partitions",
    metadata,
    Column("partition", Integer, primary_key=True),
    Column("owner", String(64)),
    Column("lease_until_ms", BigInteger, nullable=False),
    Column("checkpoint_seq", BigInteger, nullable=False),
    info={"citus": REFERENCE},
)


# Per participant of a session: what its whole stay was like, kept as data for fleet
# analytics (query/analytics.py, docs/metrics.md "Fleet analytics"). Ingest only marks a row
# dirty (dirty = 1, with its tenant and room); service/summaries.py recomputes dirty rows from
# the samples before an analytics read, at session end and periodically. Retention keeps
# these rows SUMMARY_RETENTION_DAYS, longer than the samples.
SUMMARY_DIMENSIONS = (
    "browser",
    "browser_version",
    "os",
    "device",
    "sdk",
    "sdk_version",
    "connection",
    "turn_transport",
    "network",
    "country",
    "asn",
    "codec_audio",
    "codec_video",
)
POOR_ROWS = text("audio_poor_ms > 0 OR video_poor_ms > 0")

participant_summaries = Table(
    "participant_summaries",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("participant_id", String(200), primary_key=True),
    Column("api_key", String(64), nullable=False),
    Column("room_id", String(200), nullable=False),
    Column("dirty", Integer, nullable=False),  # 1: samples arrived since the last refresh
    # 1: the figures below are counted in analytics_daily (service/rollups.py)
    Column("in_rollups", Integer, nullable=False, server_default="0"),
    Column("updated_ms", BigInteger, nullable=False),
    Column("start_ms", BigInteger),  # NULL until the first refresh
    Column("end_ms", BigInteger),
    Column("day", Integer),  # start_ms // 86 400 000 (UTC days since 1970)
    Column("hour", Integer),  # start_ms // 3 600 000
    Column("measured_ms", BigInteger),  # the participant's intervals' length, summed
    Column("audio_scored_ms", BigInteger),
    Column("audio_poor_ms", BigInteger),
    Column("video_scored_ms", BigInteger),
    Column("video_poor_ms", BigInteger),
    Column("audio_poor", Integer),  # 1: a poor audio stream (query/analytics.py's rule)
    Column("video_poor", Integer),
    Column("audio_mos_mean", Float),
    Column("audio_mos_p5", Float),
    Column("video_vq_mean", Float),
    Column("video_vq_p5", Float),
    Column("loss_pct_p50", Float),
    Column("loss_pct_p95", Float),
    Column("rtt_ms_p50", Float),
    Column("rtt_ms_p95", Float),
    Column("jitter_ms_p50", Float),
    Column("jitter_ms_p95", Float),
    Column("freeze_ms", Float),
    Column("likely_cause", String(32)),
    Column("audio_cause", String(32)),
    Column("video_cause", String(32)),
    *(Column(name, String(200)) for name in SUMMARY_DIMENSIONS),
    Index("ix_participant_summaries_key_day", "api_key", "day"),
    Index("ix_participant_summaries_dirty", "dirty", "api_key"),
    # The worst participant-sessions are among the few with poor time (store/analytics.py).
    Index("ix_participant_summaries_poor", "api_key", "day",
          sqlite_where=POOR_ROWS, postgresql_where=POOR_ROWS),
    info={"citus": BY_SESSION},
)

# Daily pre-aggregates of participant_summaries (migration 0012, service/rollups.py): per
# tenant, UTC day of the start, kind ("any", "audio", "video"), dimension (one of
# ROLLUP_DIMENSIONS, or "all") and its value ("" when unknown), the sums of the
# participant-sessions counted there and the count of each two-decimal mean score
# (``audio_mos``/``video_vq``: zlib of int32[501], index = score x 100) and of each cause,
# so that percentiles and shares stay exact.
analytics_daily = Table(
    "analytics_daily",
    metadata,
    Column("api_key", String(64), primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("kind", String(8), primary_key=True),
    Column("dimension", String(16), primary_key=True),
    Column("value", String(200), primary_key=True),
    Column("sessions", BigInteger, nullable=False),
    Column("measured_ms", BigInteger, nullable=False),
    Column("poor", BigInteger, nullable=False),
    Column("poor_ms", BigInteger, nullable=False),
    Column("scored_ms", BigInteger, nullable=False),
    Column("audio_mos", LargeBinary, nullable=False),
    Column("video_vq", LargeBinary, nullable=False),
    Column("causes", Text, nullable=False),  # JSON {cause: participant-sessions}
    info={"citus": BY_TENANT},
)

# What an import found wrong with a dump ("media flowed in only 1 of its 727 intervals"), kept
# with its session so that the session never looks like a clean call (docs/dumps.md).
session_warnings = Table(
    "session_warnings",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("warnings", Text, nullable=False),  # a JSON list of strings
    info={"citus": BY_SESSION},
)
