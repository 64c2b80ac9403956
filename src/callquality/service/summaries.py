"""Per-participant-session summaries for fleet analytics, refreshed from the samples.

Ingest only marks the participant-sessions it touched (one upsert per request, so ingest is
not slowed); :func:`refresh_dirty` recomputes them from their samples before an analytics
read, when a session ends and periodically. A late report marks its participant-session
again, so the next refresh corrects it. The figures are defined in docs/metrics.md ("Fleet
analytics"); the poor-interval rule and the causes are scoring/classify.py's.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine

from callquality.domain.client import ClientInfo
from callquality.query import summary
from callquality.query.stats import percentile
from callquality.scoring import classify
from callquality.service import rollups
from callquality.store import clients
from callquality.store import daily as rollup_store
from callquality.store import summaries as store
from callquality.store.db import write_transaction

# A participant-session's stream of one kind is poor when more than this share of its scored
# time was in poor intervals (docs/metrics.md): a 1-hour call with 6 poor minutes is one its
# user noticed. Teams CQD classifies a whole stream from its averages; callquality keeps the
# per-interval rule and counts the time.
POOR_STREAM_SHARE = 0.10
REFRESH_BATCH = 500
_DAY_MS, _HOUR_MS = 86_400_000, 3_600_000
_COLUMNS = (*summary.SAMPLE_COLUMNS, "codec_audio", "codec_video")
CLIENT_DIMENSIONS = ("browser", "browser_version", "os", "device", "sdk", "sdk_version",
                     "connection", "turn_transport", "network", "country", "asn")


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _most_common(values: list[str | None]) -> str | None:
    known = Counter(v for v in values if v)
    return min(known, key=lambda v: (-known[v], v)) if known else None


def _likely(votes: Counter[str]) -> str | None:
    causes = (*classify.CAUSES, classify.MUTED)
    return max(causes, key=lambda c: votes[c]) if votes else None


def figures(samples: Sequence[Any]) -> dict[str, Any]:
    """The summary figures of one participant-session's samples (at least one)."""
    rows = [summary.interval_row(r) for r in samples]
    audio = [r for r in rows if r.facts.audio_mos is not None and not r.facts.audio_muted]
    video = [r for r in rows if r.facts.video_vq is not None]
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    poor_ms = {"audio": 0, "video": 0}
    for r in rows:
        if r.facts.audio_muted:
            votes["any"][classify.MUTED] += r.interval_ms
        kinds = [k for k, poor in (("audio", classify.audio_poor(r.facts)),
                                   ("video", classify.video_poor(r.facts))) if poor]
        causes = classify.causes_of(r.facts) if kinds else []
        for kind in kinds:
            poor_ms[kind] += r.interval_ms
            for cause in causes:
                votes[kind][cause] += r.interval_ms
        for cause in causes:
            votes["any"][cause] += r.interval_ms
    start = min(r.timestamp_ms - r.interval_ms for r in rows)
    end = max(r.timestamp_ms for r in rows)
    scored = {"audio": sum(r.interval_ms for r in audio),
              "video": sum(r.interval_ms for r in video)}
    mos = [float(r.facts.audio_mos) for r in audio if r.facts.audio_mos is not None]
    vq = [float(r.facts.video_vq) for r in video if r.facts.video_vq is not None]
    pcts: dict[str, float | None] = {}
    for name, values in (
        ("loss_pct", [r.loss_pct for r in rows]),
        ("rtt_ms", [r.facts.rtt_ms for r in rows]),
        ("jitter_ms", [r.facts.jitter_ms for r in rows]),
    ):
        known = [v for v in values if v is not None]
        pcts[f"{name}_p50"] = _round(percentile(known, 50))
        pcts[f"{name}_p95"] = _round(percentile(known, 95))
    freeze = [r.facts.video_freeze_ms for r in rows if r.facts.video_freeze_ms is not None]
    return {
        "start_ms": start,
        "end_ms": end,
        "day": start // _DAY_MS,
        "hour": start // _HOUR_MS,
        "measured_ms": sum(r.interval_ms for r in rows),
        "audio_scored_ms": scored["audio"],
        "audio_poor_ms": poor_ms["audio"],
        "video_scored_ms": scored["video"],
        "video_poor_ms": poor_ms["video"],
        "audio_poor": _poor(poor_ms["audio"], scored["audio"]),
        "video_poor": _poor(poor_ms["video"], scored["video"]),
        "audio_mos_mean": _mean(mos),
        "audio_mos_p5": _round(percentile(mos, 5)),
        "video_vq_mean": _mean(vq),
        "video_vq_p5": _round(percentile(vq, 5)),
        **pcts,
        "freeze_ms": sum(freeze) if freeze else None,
        "likely_cause": _likely(votes["any"]),
        "audio_cause": _likely(votes["audio"]),
        "video_cause": _likely(votes["video"]),
        "codec_audio": _most_common([getattr(r, "codec_audio", None) for r in samples]),
        "codec_video": _most_common([getattr(r, "codec_video", None) for r in samples]),
    }


def _poor(poor_ms: int, scored_ms: int) -> int | None:
    if scored_ms <= 0:
        return None  # no stream of that kind
    return 1 if poor_ms > POOR_STREAM_SHARE * scored_ms else 0


def client_dimensions(info: ClientInfo) -> dict[str, str | None]:
    """The summary's context dimensions from the participant's client info (issue 15):
    ``connection`` is the selected local candidate's type, ``relay/<transport>`` through a
    TURN server whose transport is known; ``asn`` the number as "AS1221"."""
    relay = info.candidate_type == "relay"
    connection = info.candidate_type
    if relay and info.relay_protocol:
        connection = f"relay/{info.relay_protocol}"
    values = {
        "browser": info.browser_name, "browser_version": info.browser_version,
        "os": info.os_name, "device": info.device_type, "sdk": info.sdk_name,
        "sdk_version": info.sdk_version, "connection": connection,
        "turn_transport": info.relay_protocol if relay else None,
        "network": info.network_type, "country": info.country, "asn": info.asn,
    }
    return {k: v or None for k, v in values.items()}  # "" is unknown too


def refresh_in(conn: Connection, api_key: str | None, now_ms: int) -> int:
    """Recompute the dirty summaries (of one tenant, or all) and their daily rollups in the
    caller's write transaction; returns how many."""
    done = 0
    if not store.dirty_keys(conn, api_key, 1):
        return done  # the common case takes no lock
    rollup_store.lock(conn)
    while True:
        dirty = store.dirty_keys(conn, api_key, REFRESH_BATCH)
        if not dirty:
            return done
        keys = [(s, p) for s, p, _ in dirty]
        by_key: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for row in store.sample_rows(conn, keys, _COLUMNS):
            by_key[(row.session_id, row.participant_id)].append(row)
        old = {(r["session_id"], r["participant_id"]): r for r in store.summary_rows(conn, keys)}
        infos = clients.load_many(conn, keys)
        full, bare, new = [], [], []
        for s, p, seen in dirty:
            info = infos.get((s, p))
            # without client info, the dimensions stored stay
            dimensions = (client_dimensions(info) if info is not None
                          else {k: old[(s, p)][k] for k in CLIENT_DIMENSIONS})
            base: dict[str, Any] = {"session_id": s, "participant_id": p, "seen_dirty": seen,
                                    "updated_ms": now_ms, "in_rollups": 1, **dimensions}
            rows = by_key.get((s, p))
            # No measured samples (baseline reports only, or purged): the figures stay.
            if rows:
                full.append({**base, **figures(rows)})
                new.append({**old[(s, p)], **full[-1]})
            else:
                bare.append(base)
                new.append({**old[(s, p)], **base})
        counted = [r for r in old.values() if r["in_rollups"]]
        rollups.apply(conn, rollups.change(counted, new))
        store.save_refreshed(conn, full)
        store.save_refreshed(conn, bare)
        done += len(dirty)


def purge_before(conn: Connection, cutoff_ms: int) -> int:
    """Delete the summaries of participant-sessions that ended before ``cutoff_ms`` (and
    have no pending samples), taking their part out of the rollups; returns how many."""
    rollup_store.lock(conn)
    done = 0
    while True:
        rows = store.expired(conn, cutoff_ms, REFRESH_BATCH)
        if not rows:
            return done
        rollups.apply(conn, rollups.change([r for r in rows if r["in_rollups"]], []))
        store.delete_keys(conn, [(r["session_id"], r["participant_id"]) for r in rows])
        done += len(rows)


def refresh_dirty(engine: Engine, api_key: str | None, now_ms: int) -> int:
    """Recompute the dirty summaries in a write transaction of their own."""
    with write_transaction(engine) as conn:
        return refresh_in(conn, api_key, now_ms)
