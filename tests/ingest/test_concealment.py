"""Concealment as the receiver heard it, and muted or DTX streams told from broken ones.

docs/metrics.md, "Concealment and muted audio": silentConcealedSamples are taken out of the
audible concealment; each received audio stream is judged on its own counters (speech, DTX,
or no speech at all). The real dumps are jitsi's Chrome 87 calls with muted remote
participants (fixtures README): a muted participant is not a bad call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import fixture_path

from callquality.domain.sample import DirectionStats, Sample
from callquality.ingest.dumps import read_dump
from callquality.ingest.report import process_report
from callquality.scoring import score_sample

MUTED_STREAM = "RTCInboundRTPAudioStream_2566963332"  # google-standard-stats-p2p, PC_1
DTX_STREAM = "RTCInboundRTPAudioStream_757648711"  # google-standard-stats-sfu, PC_0


def dump_samples(name: str) -> Iterator[tuple[str, dict[str, Any], Sample]]:
    """(peer connection, report, sample) of every interval of a fixture dump."""
    states: dict[str, Any] = {}
    for r in read_dump(fixture_path(f"rtcstats/{name}").read_bytes()):
        sample, states[r.peer_connection_id] = process_report(
            states.get(r.peer_connection_id), r.timestamp_ms, r.report
        )
        if sample is not None:
            yield r.peer_connection_id, {o["id"]: o for o in r.report}, sample


def recv_audio(sample: Sample) -> DirectionStats:
    assert sample.audio is not None and sample.audio.recv is not None
    return sample.audio.recv


def final(name: str, stream_id: str) -> dict[str, Any]:
    last: dict[str, Any] = {}
    for _, report, _ in dump_samples(name):
        if stream_id in report:
            last = report[stream_id]
    return last


def test_the_issues_muted_stream_is_in_the_p2p_dump() -> None:
    """Issue 14: 82 packets, 2,165,527 of 2,235,520 samples concealed, 2,154,883 silent."""
    stream = final("google-standard-stats-p2p.rtcstats", MUTED_STREAM)
    assert (stream["packetsReceived"], stream["concealedSamples"],
            stream["silentConcealedSamples"], stream["totalSamplesReceived"]) == (
        82, 2_165_527, 2_154_883, 2_235_520)


def test_the_sfu_dumps_audible_concealment_is_2_1_pct_not_9_7() -> None:
    """Issue 14: over the SFU call, concealed 9.7 % of received samples, 2.1 % not silent."""
    streams = [final("google-standard-stats-sfu.rtcstats", s) for s in (
        "RTCInboundRTPAudioStream_1661050740", "RTCInboundRTPAudioStream_3489317734",
        DTX_STREAM)]
    received = sum(s["totalSamplesReceived"] for s in streams)
    concealed = sum(s["concealedSamples"] for s in streams)
    silent = sum(s["silentConcealedSamples"] for s in streams)
    assert concealed / received == pytest.approx(0.097, abs=0.001)
    assert (concealed - silent) / received == pytest.approx(0.021, abs=0.0005)


def test_silent_concealment_is_not_counted_as_heard_on_a_single_stream() -> None:
    """Chromium loopback fixture, one audio stream: ratio = Δ(concealed − silent)/Δreceived."""
    snapshots = json.loads(fixture_path("chromium-156-loopback-getstats.json").read_text())
    state, previous = None, None
    checked = 0
    for snap in snapshots:
        sample, state = process_report(state, snap["t"], snap["b"])
        (stream,) = [o for o in snap["b"] if o["type"] == "inbound-rtp" and o["kind"] == "audio"]
        if sample is not None and previous is not None:
            received = stream["totalSamplesReceived"] - previous["totalSamplesReceived"]
            audible = (stream["concealedSamples"] - previous["concealedSamples"]) - (
                stream["silentConcealedSamples"] - previous["silentConcealedSamples"])
            silent = stream["silentConcealedSamples"] - previous["silentConcealedSamples"]
            assert recv_audio(sample).concealed_ratio == pytest.approx(audible / received)
            assert recv_audio(sample).silent_concealed_ratio == pytest.approx(silent / received)
            assert recv_audio(sample).muted_ratio == 0.0  # 50 packets a second: speech
            checked += 1
        previous = stream
    assert checked == len(snapshots) - 1


def test_firefox_reports_silent_concealment_too() -> None:
    """Firefox 153 has silentConcealedSamples on inbound-rtp: its streams are judged as well."""
    snapshots = json.loads(fixture_path("firefox-153-getstats.json").read_text())
    state = None
    samples = []
    for snap in snapshots:
        sample, state = process_report(state, snap["t"], snap["b"])
        if sample is not None:
            samples.append(sample)
    assert samples
    for s in samples:
        assert recv_audio(s).silent_concealed_ratio is not None
        assert recv_audio(s).muted_ratio == 0.0


def test_a_stream_whose_sender_is_muted_makes_an_interval_muted_when_it_is_alone() -> None:
    """google-standard-stats-p2p PC_1: while only the muted stream carries audio, the interval
    is muted and not scored; never is it scored as bad audio."""
    muted = 0
    for pc, report, sample in dump_samples("google-standard-stats-p2p.rtcstats"):
        score = score_sample(sample)
        if score.audio_muted:
            muted += 1
            assert pc == "PC_1" and MUTED_STREAM in report
            assert recv_audio(sample).muted_ratio == pytest.approx(1.0)
        if score.audio is not None:
            assert score.audio.mos >= 3.5, (pc, sample)
    assert muted >= 1


def test_a_dtx_stream_counts_its_loss_not_its_comfort_noise() -> None:
    """google-standard-stats-sfu PC_0: the DTX stream (46 of 100 packets a 2-s interval)
    conceals half of its samples as comfort noise; the interval's audible concealment stays
    what the speaking streams lost, and no interval of the call is poor audio."""
    heavy = 0
    for _, report, sample in dump_samples("google-standard-stats-sfu.rtcstats"):
        assert DTX_STREAM in report
        audio = recv_audio(sample)
        assert audio.concealed_ratio is not None and audio.concealed_ratio < 0.07
        assert audio.silent_concealed_ratio is not None
        heavy += audio.silent_concealed_ratio > 0.1  # the DTX stream concealing a lot
        score = score_sample(sample)
        assert score.audio is not None and score.audio.mos >= 3.5
    assert heavy >= 10


def _report(packets: int, lost: int, concealed: int, silent: int, received: int,
            duration_s: float, ts_ms: float) -> list[dict[str, Any]]:
    return [{"id": "IA", "type": "inbound-rtp", "kind": "audio", "ssrc": 1, "timestamp": ts_ms,
             "packetsReceived": packets, "packetsLost": lost, "bytesReceived": packets * 60,
             "concealedSamples": concealed, "silentConcealedSamples": silent,
             "totalSamplesReceived": received, "totalSamplesDuration": duration_s}]


def _one_interval(packets: int, lost: int, concealed: int, silent: int) -> DirectionStats:
    """A 2-s interval of one 48 kHz stream with these deltas."""
    _, state = process_report(None, 1000.0, _report(1000, 0, 0, 0, 960_000, 20.0, 1000.0))
    sample, _ = process_report(state, 3000.0, _report(
        1000 + packets, lost, concealed, silent, 960_000 + 96_000, 22.0, 3000.0))
    assert sample is not None
    return recv_audio(sample)


def test_a_talking_stream_counts_its_audible_concealment() -> None:
    """100 packets in 2 s (one per 20 ms): speech; 4,800 concealed, 960 of them silent → 4 %."""
    audio = _one_interval(packets=95, lost=5, concealed=4800, silent=960)
    assert audio.concealed_ratio == pytest.approx(3840 / 96_000)
    assert audio.muted_ratio == 0.0


def test_a_dtx_stream_counts_its_network_loss() -> None:
    """40 packets + 0 lost in 2 s (< 90 % of 100): DTX; its 40 % concealment is comfort noise."""
    audio = _one_interval(packets=40, lost=0, concealed=38_400, silent=9_600)
    assert audio.concealed_ratio == 0.0 and audio.muted_ratio == 0.0


def test_a_stream_with_at_most_a_tenth_of_its_packets_is_muted() -> None:
    """5 packets in 2 s (Opus DTX in silence sends one per 400 ms): no speech, muted."""
    audio = _one_interval(packets=5, lost=0, concealed=90_000, silent=40_000)
    assert audio.muted_ratio == 1.0 and audio.concealed_ratio == 0.0


def test_a_stream_concealed_mostly_as_silence_is_muted() -> None:
    """Half of the received samples concealed as silence: its sender sent no speech."""
    audio = _one_interval(packets=100, lost=0, concealed=60_000, silent=50_000)
    assert audio.muted_ratio == 1.0


def _send_report(
    ts_ms: float, packets: int, energy: float, duration_s: float
) -> list[dict[str, Any]]:
    return [
        {"id": "OA", "type": "outbound-rtp", "kind": "audio", "ssrc": 2, "timestamp": ts_ms,
         "packetsSent": packets, "bytesSent": packets * 60, "mediaSourceId": "SA"},
        {"id": "SA", "type": "media-source", "kind": "audio", "timestamp": ts_ms,
         "audioLevel": 0.0, "totalAudioEnergy": energy, "totalSamplesDuration": duration_s},
    ]


def test_a_microphone_that_sent_digital_silence_is_muted() -> None:
    """A Chromium track disabled mid-call (our harness recording): its media-source energy
    stops growing (Δ 0.0 over 2 s) while 100 packets of silence still go out."""
    _, state = process_report(None, 1000.0, _send_report(1000.0, 500, 2.4, 10.0))
    muted, state = process_report(state, 3000.0, _send_report(3000.0, 600, 2.4, 12.0))
    talking, _ = process_report(state, 5000.0, _send_report(5000.0, 700, 2.9, 14.0))
    assert muted is not None and talking is not None
    assert muted.audio is not None and muted.audio.send is not None
    assert talking.audio is not None and talking.audio.send is not None
    assert muted.audio.send.muted_ratio == 1.0 and talking.audio.send.muted_ratio == 0.0
    score = score_sample(muted)
    assert score.audio is None and score.audio_muted and score.audio_direction is None


def _recv_report(ts_ms: float, packets: int, payload: int, received: int,
                 duration_s: float) -> list[dict[str, Any]]:
    return [{"id": "IA", "type": "inbound-rtp", "kind": "audio", "ssrc": 1, "timestamp": ts_ms,
             "packetsReceived": packets, "packetsLost": 0, "bytesReceived": payload,
             "concealedSamples": 0, "silentConcealedSamples": 0,
             "totalSamplesReceived": received, "totalSamplesDuration": duration_s}]


def test_a_stream_of_opus_silence_frames_is_muted() -> None:
    """Our harness recording: after the sender disabled its track, 100 packets carried 300
    payload bytes in 2 s (3 bytes each, Opus's silence frame): no speech, muted; before, 63
    bytes a packet."""
    _, state = process_report(None, 1000.0, _recv_report(1000.0, 500, 31_500, 480_000, 10.0))
    talking, state = process_report(state, 3000.0,
                                    _recv_report(3000.0, 600, 37_800, 576_000, 12.0))
    silent, _ = process_report(state, 5000.0, _recv_report(5000.0, 700, 38_100, 672_000, 14.0))
    assert talking is not None and silent is not None
    assert recv_audio(talking).muted_ratio == 0.0
    assert recv_audio(silent).muted_ratio == 1.0
    assert score_sample(silent).audio_muted
