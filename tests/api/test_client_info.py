"""The ingest item's ``client`` object, the GeoIP location of the client's address behind
trusted proxies, and what is stored of them (never the address), over HTTP on both databases."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import FIXTURES
from support.items import T0, sample_item
from support.server import RunningServer, Tenant, serve

from callquality.api.forwarded import client_address, trusted_networks
from callquality.config import Settings
from callquality.store.db import read_transaction
from callquality.store.schema import metadata

GEOIP = FIXTURES / "geoip"
# In MaxMind's test databases (their *.source.json): Linköping, Östergötland, Sweden; AS29518.
TEST_ADDRESS = "89.160.20.129"
OTHER_ADDRESS = "81.2.69.142"  # London, England, GB (City only)
FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def _truth(address: str) -> dict[str, Any]:
    """What MaxMind's source records say of an address (the databases were built from them)."""
    import ipaddress

    ip = ipaddress.ip_address(address)
    out: dict[str, Any] = {}
    for name in ("GeoIP2-City-Test", "GeoLite2-ASN-Test"):
        for record in json.loads((GEOIP / f"{name}.source.json").read_text()):
            for text, value in record.items():
                network = ipaddress.ip_network(text)
                # IPv4 networks are written inside IPv6 as well ("::89.160.20.112/124").
                if network.version == 6 and text.startswith("::") and "." in text:
                    network = ipaddress.ip_network(
                        (int(network.network_address), network.prefixlen - 96))
                if ip in network:
                    out.update(value)
    return out


@pytest.fixture(scope="module")
def geo_servers(backend: str) -> Iterator[tuple[RunningServer, RunningServer]]:
    """Two servers on the same database with MaxMind's test databases: one behind a trusted
    proxy on loopback, one that trusts only a proxy elsewhere (so not its loopback peer)."""
    databases = {
        "geoip_city_db": str(GEOIP / "GeoIP2-City-Test.mmdb"),
        "geoip_asn_db": str(GEOIP / "GeoLite2-ASN-Test.mmdb"),
    }
    with serve(Settings(database_url=backend, trusted_proxies="127.0.0.1, ::1",
                        **databases)) as behind_proxy, \
         serve(Settings(database_url=backend, trusted_proxies="10.0.0.0/8",
                        **databases)) as direct:
        yield behind_proxy, direct


def _room() -> str:
    return f"room-{uuid.uuid4().hex[:8]}"


def _send(
    server: RunningServer, tenant: Tenant, items: list[dict[str, Any]],
    headers: dict[str, str] | None = None,
) -> str:
    with server.client(tenant) as client:
        answer = client.post("/v2/stats", json=items, headers=headers or {})
    assert answer.status_code == 202, answer.text
    return str(answer.json()["sessionIds"][0])


def _participant(server: RunningServer, tenant: Tenant, session_id: str, pid: str) -> Any:
    with server.client(tenant) as client:
        return client.get(f"/v2/sessions/{session_id}/participant/{pid}/stats").json()


def test_a_client_behind_a_trusted_proxy_is_located_by_its_forwarded_address(
    geo_servers: tuple[RunningServer, RunningServer],
) -> None:
    server, _ = geo_servers
    tenant = server.new_tenant()
    truth = _truth(TEST_ADDRESS)
    session_id = _send(server, tenant, [sample_item(_room(), "p", T0 + 5000)],
                       {"X-Forwarded-For": TEST_ADDRESS})
    body = _participant(server, tenant, session_id, "p")
    assert body["location"] == {
        "country": truth["country"]["iso_code"],
        "city": truth["city"]["names"]["en"],
        "region": truth["subdivisions"][0]["names"]["en"],
    } == {"country": "SE", "city": "Linköping", "region": "Östergötland County"}
    assert body["network"] == {
        "asn": f"AS{truth['autonomous_system_number']}",
        "org": truth["autonomous_system_organization"],
    } == {"asn": "AS29518", "org": "Bredband2 AB"}


def test_a_forged_forwarded_for_from_an_untrusted_peer_is_ignored(
    geo_servers: tuple[RunningServer, RunningServer],
) -> None:
    _, direct = geo_servers
    tenant = direct.new_tenant()
    session_id = _send(direct, tenant, [sample_item(_room(), "p", T0 + 5000)],
                       {"X-Forwarded-For": TEST_ADDRESS})
    body = _participant(direct, tenant, session_id, "p")
    # The peer itself (loopback) is the client, and no database knows it.
    assert body["location"] == {"country": "unknown", "city": "unknown", "region": "unknown"}
    assert body["network"] == {"asn": "unknown", "org": "unknown"}


def test_a_forged_hop_before_the_trusted_proxys_own_is_ignored(
    geo_servers: tuple[RunningServer, RunningServer],
) -> None:
    server, _ = geo_servers
    tenant = server.new_tenant()
    # The client wrote OTHER_ADDRESS itself; the trusted proxy appended the peer it saw.
    session_id = _send(server, tenant, [sample_item(_room(), "p", T0 + 5000)],
                       {"X-Forwarded-For": f"{OTHER_ADDRESS}, {TEST_ADDRESS}"})
    assert _participant(server, tenant, session_id, "p")["location"]["city"] == "Linköping"


def test_the_address_is_resolved_and_never_stored_or_logged(
    geo_servers: tuple[RunningServer, RunningServer], caplog: pytest.LogCaptureFixture,
) -> None:
    server, _ = geo_servers
    tenant = server.new_tenant()
    caplog.set_level(logging.DEBUG)
    client = {"userAgent": FIREFOX_UA, "sdkName": "my-sdk", "sdkVersion": "1.2.3"}
    session_id = _send(server, tenant,
                       [sample_item(_room(), "p", T0 + 5000, client=client)],
                       {"X-Forwarded-For": TEST_ADDRESS})
    assert _participant(server, tenant, session_id, "p")["location"]["country"] == "SE"
    with read_transaction(server.engine) as conn:  # type: ignore[arg-type]
        for table in metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                assert TEST_ADDRESS not in repr(tuple(row)), table.name
    logged = [repr(r.__dict__) for r in caplog.records]
    assert logged and not any(TEST_ADDRESS in text for text in logged)


def test_a_client_object_is_parsed_and_served_per_participant(server: RunningServer) -> None:
    tenant = server.new_tenant()
    room = _room()
    hints = {
        "brands": [{"brand": "Not)A;Brand", "version": "99"},
                   {"brand": "Chromium", "version": "156"}],
        "fullVersionList": [{"brand": "Not)A;Brand", "version": "99.0.0.0"},
                            {"brand": "Chromium", "version": "156.0.7345.2"}],
        "mobile": False, "platform": "Linux", "platformVersion": "6.1.0",
    }
    items = [
        sample_item(room, "fox", T0 + 5000, client={
            "userAgent": FIREFOX_UA, "sdkName": "my-sdk", "sdkVersion": "1.2.3",
            "appName": "Clinic", "appVersion": "4.0"}),
        sample_item(room, "chromium", T0 + 5000, client={"userAgentData": hints}),
        sample_item(room, "bare", T0 + 5000),
    ]
    session_id = _send(server, tenant, items)
    fox = _participant(server, tenant, session_id, "fox")
    assert fox["deviceInfo"] == {"deviceName": "Firefox", "deviceVersion": "128.0",
                                 "osName": "Linux", "osVersion": None, "deviceType": "desktop",
                                 "deviceModel": None}
    assert fox["sdkInfo"] == {"sdkName": "my-sdk", "sdkVersion": "1.2.3", "appName": "Clinic",
                              "appVersion": "4.0"}
    chromium = _participant(server, tenant, session_id, "chromium")
    assert chromium["deviceInfo"]["deviceName"] == "Chromium"  # the GREASE brand is skipped
    assert chromium["deviceInfo"]["deviceVersion"] == "156.0.7345.2"
    assert chromium["deviceInfo"]["osVersion"] == "6.1.0"
    bare = _participant(server, tenant, session_id, "bare")
    assert bare["deviceInfo"]["deviceName"] is None and bare["sdkInfo"]["sdkName"] is None
    assert bare["connection"] == {"candidateType": None, "protocol": None, "relayProtocol": None,
                                  "networkType": None}
    with server.client(tenant) as client:
        listed = client.get("/v2/sessions/", params={"roomId": room}).json()["data"][0]
        page = client.get(f"/v2/sessions/{session_id}/participants").json()["data"]
    by_id = {p["participantId"]: p for p in page["participants"]}
    assert by_id["fox"]["deviceInfo"] == fox["deviceInfo"]
    assert by_id["fox"]["sdkInfo"] == fox["sdkInfo"]
    assert by_id["chromium"]["deviceInfo"]["deviceName"] == "Chromium"
    # The sessions list (thousands of participants a page) shows VideoSDK's keys alone.
    listed_by_id = {p["participantId"]: p for p in listed["participants"]}
    assert listed_by_id["fox"]["deviceInfo"] == {"deviceName": "Firefox",
                                                 "deviceVersion": "128.0"}
    assert listed_by_id["fox"]["sdkInfo"] == {"sdkName": "my-sdk", "sdkVersion": "1.2.3"}
    assert "location" not in listed_by_id["fox"]


def test_a_later_report_updates_what_it_knows_and_keeps_the_rest(server: RunningServer) -> None:
    tenant = server.new_tenant()
    room = _room()
    first = sample_item(room, "p", T0 + 5000,
                        client={"userAgent": FIREFOX_UA, "sdkName": "s", "sdkVersion": "1"})
    session_id = _send(server, tenant, [first])
    _send(server, tenant, [sample_item(room, "p", T0 + 10_000, client={"sdkVersion": "2"})])
    body = _participant(server, tenant, session_id, "p")
    assert body["sdkInfo"]["sdkName"] == "s" and body["sdkInfo"]["sdkVersion"] == "2"
    assert body["deviceInfo"]["deviceName"] == "Firefox"


@pytest.mark.parametrize(
    ("client", "field"),
    [
        ({"userAgent": "x" * 10_240}, "items[0].client.userAgent"),
        ({"userAgent": 5}, "items[0].client.userAgent"),
        ({"sdkName": ["callquality"]}, "items[0].client.sdkName"),
        ({"sdkVersion": 1.2}, "items[0].client.sdkVersion"),
        ({"userAgentData": {"mobile": "no"}}, "items[0].client.userAgentData.mobile"),
        ({"userAgentData": {"brands": [{"brand": "A"}]}},
         "items[0].client.userAgentData.brands[0].version"),
        ({"userAgent": "Mozilla\x00"}, "items[0].client.userAgent"),
        ({"ipAddress": "1.2.3.4"}, "items[0].client.ipAddress"),
        ("Firefox", "items[0].client"),
    ],
)
def test_a_bad_client_object_is_a_400_naming_the_field_and_stores_nothing(
    server: RunningServer, client: Any, field: str
) -> None:
    tenant = server.new_tenant()
    room = _room()
    good = sample_item(room, "ok", T0 + 5000)
    bad = sample_item(room, "p", T0 + 5000, client=client)
    with server.client(tenant) as http:
        answer = http.post("/v2/stats", json=[bad, good])
        listed = http.get("/v2/sessions/").json()
    assert answer.status_code == 400, answer.text
    message = answer.json()["message"]
    assert message.startswith(field + ":"), message
    assert listed["pageInfo"]["total"] == 0


def test_the_client_address_is_the_first_untrusted_hop_from_the_right() -> None:
    proxies = trusted_networks("10.0.0.0/8, 192.0.2.1")
    # A peer that is no trusted proxy is the client, whatever it forwards.
    assert client_address("198.51.100.7", ["203.0.113.9"], proxies) == "198.51.100.7"
    # Behind trusted proxies: the rightmost hop that is not one of them.
    assert client_address("10.1.1.1", ["203.0.113.9, 198.51.100.7, 10.2.2.2"], proxies) == (
        "198.51.100.7")
    assert client_address("10.1.1.1", ["203.0.113.9", "192.0.2.1"], proxies) == "203.0.113.9"
    assert client_address("10.1.1.1", ["[2001:db8::1]:443"], proxies) == "2001:db8::1"
    assert client_address("10.1.1.1", ["198.51.100.7:5000"], proxies) == "198.51.100.7"
    assert client_address("10.1.1.1", [], proxies) == "10.1.1.1"
    assert client_address("10.1.1.1", ["not-an-address"], proxies) is None
    assert client_address("::ffff:198.51.100.7", [], proxies) == "198.51.100.7"
    assert client_address(None, ["203.0.113.9"], proxies) is None
    with pytest.raises(ValueError, match="TRUSTED_PROXIES: 'nonsense'"):
        trusted_networks("10.0.0.0/8,nonsense")


def test_a_bad_geoip_path_fails_at_start_naming_the_setting() -> None:
    from callquality.api.app import create_app

    with pytest.raises(ValueError, match="GEOIP_CITY_DB="):
        create_app(Settings(database_url="sqlite://", geoip_city_db=str(GEOIP / "missing.mmdb")))
    with pytest.raises(ValueError, match="GEOIP_ASN_DB="):
        create_app(Settings(database_url="sqlite://",
                            geoip_asn_db=str(GEOIP / "GeoIP2-City-Test.source.json")))


def test_an_ingest_log_message_keeps_the_items_client_info() -> None:
    from callquality.domain.client import ClientInfo
    from callquality.ingest.items import IngestItem
    from callquality.service.ingestlog import decode, encode

    client = ClientInfo(browser_name="Firefox", sdk_name="s", country="SE", asn="AS29518")
    item = IngestItem(0, "room", "p", T0, report=[], client=client)
    api_key, back = decode(encode("key", item))
    assert api_key == "key" and back == item and back.client == client
