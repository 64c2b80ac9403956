"""Device and connection of a client, from its user agent, UA client hints and a raw report."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import fixture_path

from callquality.ingest.client import (
    Brand,
    ClientHints,
    connection_of,
    from_client_hints,
    from_user_agent,
)


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/102.0.0.0 Safari/537.36",
         ("Chrome", "102.0.0.0", "Windows", "10", "desktop")),
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "HeadlessChrome/156.0.0.0 Safari/537.36",
         ("HeadlessChrome", "156.0.0.0", "Linux", None, "desktop")),
        ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
         ("Firefox", "128.0", "Linux", None, "desktop")),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
         "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
         ("Mobile Safari", "17.4", "iOS", "17.4", "mobile")),
        ("Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
         "Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
         ("Mobile Safari", "16.6", "iOS", "16.6", "tablet")),
        ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.0.0 Mobile Safari/537.36",
         ("Chrome Mobile", "120.0.0.0", "Android", "10", "mobile")),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
         ("Edge", "120.0.2210.91", "Windows", "10", "desktop")),
        ("curl/8.5.0", ("curl", "8.5.0", None, None, "desktop")),
    ],
)
def test_a_user_agent_names_the_browser_its_version_the_os_and_the_device_type(
    user_agent: str, expected: tuple[str | None, ...]
) -> None:
    info = from_user_agent(user_agent)
    got = (info.browser_name, info.browser_version, info.os_name, info.os_version,
           info.device_type)
    assert got == expected


def test_a_user_agent_that_names_nothing_known_has_no_browser() -> None:
    info = from_user_agent("not a browser at all")
    assert info.browser_name is None and info.browser_version is None and info.os_name is None


def test_client_hints_name_the_specific_brand_with_its_full_version_past_grease() -> None:
    hints = ClientHints(
        brands=(Brand("Not_A Brand", "8"), Brand("Chromium", "120"),
                Brand("Google Chrome", "120")),
        full_version_list=(Brand("Not_A Brand", "8.0.0.0"), Brand("Chromium", "120.0.6099.71"),
                           Brand("Google Chrome", "120.0.6099.71")),
        mobile=True, platform="Android", platform_version="14.0.0", model="Pixel 8",
    )
    info = from_client_hints(hints)
    assert (info.browser_name, info.browser_version) == ("Google Chrome", "120.0.6099.71")
    assert (info.os_name, info.os_version, info.device_type, info.device_model) == (
        "Android", "14.0.0", "mobile", "Pixel 8")


def test_chromium_alone_is_chromium_and_low_entropy_hints_give_the_major_version() -> None:
    hints = ClientHints(brands=(Brand("Chromium", "156"), Brand("Not/A)Brand", "24")),
                        mobile=False, platform="Linux")
    info = from_client_hints(hints)
    assert (info.browser_name, info.browser_version, info.device_type) == (
        "Chromium", "156", "desktop")


def _snapshots(name: str) -> list[dict[str, Any]]:
    return json.loads(fixture_path(name).read_text())  # type: ignore[no-any-return]


def test_chromiums_selected_pair_is_a_host_candidate_over_udp_on_ethernet() -> None:
    for side in ("a", "b"):
        info = connection_of(_snapshots("chromium-156-loopback-getstats.json")[-1][side])
        assert info is not None
        assert (info.candidate_type, info.protocol, info.relay_protocol, info.network_type) == (
            "host", "udp", None, "ethernet")


def test_firefoxs_selected_pair_is_the_one_its_transport_names() -> None:
    report = _snapshots("firefox-153-getstats.json")[-1]["a"]
    by_id = {s["id"]: s for s in report}
    transport = next(s for s in report if s["type"] == "transport")
    pair = by_id[transport["selectedCandidatePairId"]]
    local = by_id[pair["localCandidateId"]]
    info = connection_of(report)
    assert info is not None
    assert (info.candidate_type, info.protocol) == (local["candidateType"], local["protocol"])
    assert info.network_type is None  # Firefox does not report it


def _turn_report(relay_protocol: str) -> list[dict[str, Any]]:
    """A report whose selected pair's local candidate is a TURN relay (W3C field names)."""
    return [
        {"id": "T1", "type": "transport", "selectedCandidatePairId": "CP1"},
        {"id": "CP1", "type": "candidate-pair", "localCandidateId": "L1",
         "remoteCandidateId": "R1", "state": "succeeded", "nominated": True},
        {"id": "L1", "type": "local-candidate", "candidateType": "relay", "protocol": "udp",
         "relayProtocol": relay_protocol, "networkType": "wifi"},
        {"id": "R1", "type": "remote-candidate", "candidateType": "host", "protocol": "udp"},
    ]


@pytest.mark.parametrize("relay_protocol", ["udp", "tcp", "tls"])
def test_a_relayed_connection_says_how_it_reaches_the_turn_server(relay_protocol: str) -> None:
    info = connection_of(_turn_report(relay_protocol))
    assert info is not None
    assert (info.candidate_type, info.relay_protocol, info.network_type) == (
        "relay", relay_protocol, "wifi")


def test_no_selected_pair_or_odd_values_give_no_connection() -> None:
    assert connection_of([]) is None
    no_pair = [{"id": "T1", "type": "transport"}, "junk", {"type": "inbound-rtp"}]
    assert connection_of(no_pair) is None
    odd = _turn_report("quic")
    odd[2].update(candidateType="carrier-pigeon", protocol="sctp", networkType="wi fi\n")
    assert connection_of(odd) is None
