"""audio_score: how network numbers become the E-model's Ta and Ppl, and which band applies.

Rules are ours (docs/models.md, "Audio"); the E-model terms they feed are G.107's (narrowband),
G.107.1's (wideband) and G.107.2's (fullband), each codec on its own band's scale.
"""

from __future__ import annotations

import pytest

from callquality.scoring import ScoringInputError, audio_score, emodel


def test_unknown_inputs_score_a_clean_opus_call_on_the_fullband_scale() -> None:
    """docs/models.md: unknown RTT, jitter and loss count as 0; no codec means Opus, rated on
    G.107.2 with Ie,FB 10.2 (G.113 Amd. 3 as cited by Orange webrtc-metrics): near the top."""
    s = audio_score(rtt_ms=None, jitter_ms=None, loss_pct=None)
    assert s.codec == "opus" and s.band == "fullband"
    assert s.ppl == 0.0
    assert s.ta_ms == pytest.approx(20.0 + 26.5)  # jitter-buffer floor + Opus delay
    assert s.idd == 0.0  # Ta ≤ mT = 100 ms
    assert s.r == pytest.approx(148.0 - 10.2 - s.id, abs=1e-9)
    assert s.mos == pytest.approx(emodel.fullband_r_to_mos(s.r), abs=1e-9)
    assert s.mos == pytest.approx(4.40, abs=0.01)


def test_clean_g711_rates_g107s_default_connection_on_the_narrowband_scale() -> None:
    """G.107 §7.7: a default connection with G.711 (Ie = 0, G.113 Table I.3) rates R = 93.2,
    MOS 4.41 (Annex B) at zero delay; at Ta = 60 ms the default echo terms cost 1.7 → 4.38."""
    s = audio_score(rtt_ms=40.0, jitter_ms=2.0, loss_pct=0.0, codec="PCMU")
    assert s.codec == "g711" and s.band == "narrowband"
    assert s.ie == 0.0
    assert s.r_zero_delay == pytest.approx(93.2, abs=0.01)
    assert emodel.r_to_mos(s.r_zero_delay) == pytest.approx(4.41, abs=0.005)
    assert s.ta_ms == pytest.approx(60.0)
    assert s.r == pytest.approx(s.r_zero_delay - (s.id - emodel.DEFAULT_IDLE), abs=0.01)
    assert s.mos == pytest.approx(4.38, abs=0.01)


@pytest.mark.parametrize(("loss_pct", "mos"), [(2.0, 4.24), (10.0, 3.41)])
def test_g711_with_plc_under_random_loss_gives_g107s_values(loss_pct: float, mos: float) -> None:
    """G.107 eq. 7-29 with G.113 Table I.3 (Ie 0, Bpl 25.1 with PLC) before delay terms:
    2 % → R = 93.2 − 7.01 = 86.19 → 4.24; 10 % → R = 93.2 − 27.07 = 66.13 → 3.41."""
    s = audio_score(rtt_ms=0.0, jitter_ms=0.0, loss_pct=loss_pct, codec="PCMA")
    assert s.bpl == 25.1
    assert s.ie_eff == pytest.approx(95.0 * loss_pct / (loss_pct + 25.1), abs=1e-9)
    assert emodel.r_to_mos(s.r_zero_delay) == pytest.approx(mos, abs=0.005)
    assert s.mos < emodel.r_to_mos(s.r_zero_delay)  # the delay terms only take away


def test_clean_calls_of_every_band_reach_the_top_of_their_own_scale() -> None:
    """Each band is its own model: clean G.711, G.722 and Opus all rate 4.3–4.45, as G.107,
    Twilio, webrtc-issue-detector and rtcscore put a clean call (issue 14)."""
    for codec in ("PCMU", "G722", "opus"):
        s = audio_score(rtt_ms=20.0, jitter_ms=2.0, loss_pct=0.0, codec=codec)
        assert 4.30 <= s.mos <= 4.45, (codec, s.mos)


def test_the_fullband_equivalent_r_credits_bandwidth() -> None:
    """docs/models.md: r_fullband rates every codec on G.107.2's 0..148 scale, so the wider
    band ranks higher when clean: Opus > G.722 > G.711 (derived Ie,FB 10.2 / 32 / 54.8)."""
    def r_fb(codec: str) -> float:
        return audio_score(rtt_ms=20.0, jitter_ms=2.0, loss_pct=0.0, codec=codec).r_fullband

    assert r_fb("opus") > r_fb("G722") > r_fb("PCMU")
    assert r_fb("PCMU") == pytest.approx(93.2 - 1.3, abs=0.5)
    opus = audio_score(rtt_ms=20.0, jitter_ms=2.0, loss_pct=0.0, codec="opus")
    assert opus.r_fullband == opus.r  # a fullband codec's own scale is the fullband one


def test_mouth_to_ear_delay_is_half_rtt_plus_jitter_buffer_plus_codec_delay() -> None:
    """docs/models.md: Ta = RTT/2 + max(2·jitter, 20 ms) + codec delay (Opus: 26.5 ms)."""
    s = audio_score(rtt_ms=300.0, jitter_ms=30.0, loss_pct=0.0, codec="opus")
    assert s.jitter_buffer_ms == 60.0
    assert s.ta_ms == pytest.approx(150.0 + 60.0 + 26.5)
    assert s.idd == pytest.approx(1.48 * emodel.pure_delay_idd(236.5))  # Idd,FB (G.107.2 §7.4)


def test_small_jitter_still_costs_one_packet_of_buffering() -> None:
    """docs/models.md: the jitter buffer never holds less than one 20 ms packet."""
    assert audio_score(rtt_ms=0.0, jitter_ms=3.0, loss_pct=0.0).jitter_buffer_ms == 20.0


def test_concealment_the_receiver_reports_is_the_loss_it_heard() -> None:
    """docs/models.md: Ppl = 100 × audible concealed ratio when the receiver reports it:
    late packets count, and packets FEC recovered do not."""
    assert audio_score(rtt_ms=0.0, jitter_ms=0.0, loss_pct=1.0, concealed_ratio=0.04).ppl == 4.0
    assert audio_score(rtt_ms=0.0, jitter_ms=0.0, loss_pct=3.0,
                       concealed_ratio=0.01).ppl == pytest.approx(1.0)


def test_network_loss_is_the_loss_when_no_concealment_is_reported() -> None:
    """docs/models.md: without the receiver's concealment, Ppl is the network loss."""
    assert audio_score(rtt_ms=0.0, jitter_ms=0.0, loss_pct=3.0).ppl == 3.0


def test_opus_uses_the_g113_fullband_values() -> None:
    """G.113 Amd. 3 (via Orange webrtc-metrics): Opus Ie,FB 10.2, Bpl 9.6, loss headroom 132
    (G.107.2 §7.5). Cross-check: Alahmadi et al. 2021 VBR Opus 34–40 kbit/s Bpl 10.1–9.8."""
    s = audio_score(rtt_ms=0.0, jitter_ms=0.0, loss_pct=5.0, codec="opus")
    assert (s.ie, s.bpl) == (10.2, 9.6)
    assert s.ie_eff == pytest.approx(10.2 + (132.0 - 10.2) * 5.0 / (5.0 + 9.6))


def test_g722_rates_on_the_wideband_scale() -> None:
    """G.113 Appendix IV: G.722 64 kbit/s Ie,WB = 13 on the G.107.1 scale (Ro,WB 129)."""
    s = audio_score(rtt_ms=0.0, jitter_ms=0.0, loss_pct=0.0, codec="G722")
    assert s.codec == "g722" and s.band == "wideband"
    assert s.r_zero_delay == pytest.approx(129.0 - 13.0 - emodel.listener_echo_idle(0.0, 129.0))
    assert s.mos == pytest.approx(emodel.wideband_r_to_mos(s.r), abs=1e-12)


def test_ilbc_is_narrowband() -> None:
    """RFC 3951: iLBC codes 8 kHz speech; it is rated on G.107's scale (values: docs/models.md)."""
    assert audio_score(rtt_ms=0.0, jitter_ms=0.0, loss_pct=0.0, codec="iLBC").band == "narrowband"


def test_unknown_codec_is_scored_as_opus() -> None:
    """docs/models.md: a codec with no published values is scored as WebRTC's default, Opus."""
    assert audio_score(rtt_ms=0.0, jitter_ms=0.0, loss_pct=0.0, codec="speex").codec == "opus"


def test_r_is_reported_on_its_scale_never_below_0() -> None:
    """G.107 Annex B: below R = 0 the MOS is 1; R itself is reported as 0 there, not −38."""
    s = audio_score(rtt_ms=3000.0, jitter_ms=200.0, loss_pct=60.0, codec="opus")
    assert s.r == 0.0 and s.mos == 1.0 and s.r_fullband == 0.0


def test_burst_ratio_defaults_to_random_loss() -> None:
    """G.107 Table 3: BurstR = 1 (random loss) unless the burstiness is known."""
    assert audio_score(rtt_ms=0.0, jitter_ms=0.0, loss_pct=1.0).burst_ratio == 1.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rtt_ms": -1.0},
        {"jitter_ms": float("nan")},
        {"loss_pct": 100.5},
        {"concealed_ratio": 1.5},
        {"burst_ratio": 0.0},
    ],
)
def test_out_of_domain_inputs_are_rejected(kwargs: dict[str, float]) -> None:
    """scoring/errors.py: an input no model can take raises ScoringInputError, naming it."""
    args: dict[str, float | None] = {"rtt_ms": 0.0, "jitter_ms": 0.0, "loss_pct": 0.0}
    args.update(kwargs)
    with pytest.raises(ScoringInputError, match=next(iter(kwargs))):
        audio_score(**args)  # type: ignore[arg-type]
