"""The averages in session objects follow docs/metrics.md: a participant's is the mean of its
interval scores, the session's the mean over participants, on the list and the session alike."""

from __future__ import annotations

import json
from statistics import fmean

from conftest import FIXTURES
from support.items import T0, sample_item
from support.server import RunningServer


def test_session_and_participant_averages_are_the_means_of_the_interval_scores(
    server: RunningServer,
) -> None:
    tenant = server.new_tenant()
    items = [sample_item("avg", "alice", T0 + i * 5000, audio_recv_lost=3 * i) for i in range(6)]
    items += [sample_item("avg", "bob", T0 + i * 5000 + 500, rtt_ms=300.0) for i in range(3)]
    with server.client(tenant) as client:
        answer = client.post("/v2/stats", json=items)
        assert answer.status_code == 202, answer.text
        session_id = answer.json()["sessionIds"][0]
        means = {}
        for pid in ("alice", "bob"):
            series = client.get(
                f"/v2/sessions/{session_id}/participant/{pid}/stats", params={"interval": 5}
            ).json()["stats"]
            # One sample per 5-s bucket: the buckets' scores are the interval scores.
            audio = [b["qualityScore"]["audio"] for b in series if b["qualityScore"]["audio"]]
            assert len(audio) == (6 if pid == "alice" else 3)
            assert len(set(audio)) > 1 or pid == "bob"  # alice's loss varies her score
            means[pid] = fmean(audio)
        one = client.get(f"/v2/sessions/{session_id}").json()
        listed = client.get("/v2/sessions/", params={"roomId": "avg"}).json()["data"][0]
    for body in (one, listed):
        people = {p["participantId"]: p["qualityScore"] for p in body["participants"]}
        for pid, mean in means.items():
            assert abs(people[pid]["audio"] - mean) <= 0.006, (pid, people[pid], mean)
        assert body["qualityScore"]["audio"] == round(
            fmean([people["alice"]["audio"], people["bob"]["audio"]]), 2
        )
        assert body["qualityScore"]["video"] is not None
    assert one["qualityScore"] == listed["qualityScore"]


def test_a_session_without_scored_samples_has_null_averages(server: RunningServer) -> None:
    tenant = server.new_tenant()
    # A stream's first raw report only sets the baseline of its counters: no interval yet.
    first = json.loads((FIXTURES / "chromium-156-loopback-getstats.json").read_text())[0]
    item = {"roomId": "no-scores", "participantId": "p", "timestamp": first["t"],
            "report": first["a"]}
    with server.client(tenant) as client:
        session_id = client.post("/v2/stats", json=item).json()["sessionIds"][0]
        body = client.get(f"/v2/sessions/{session_id}").json()
    assert body["qualityScore"] == {"audio": None, "video": None}
    assert body["participants"][0]["qualityScore"] == {"audio": None, "video": None}
