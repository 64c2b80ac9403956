"""The client's address: the socket peer, or, when the peer is a trusted reverse proxy
(``TRUSTED_PROXIES``), the first untrusted hop of ``X-Forwarded-For`` read from the right.

A client can write any ``X-Forwarded-For`` it likes; only the hops appended by proxies we
trust are believed, so a forged header sent straight to the server, or through a trusted
proxy (which appends the real peer after it), changes nothing. uvicorn's own handling of
the header is turned off where callquality starts uvicorn (``cli.py serve``): this is the
one place that decides.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from starlette.requests import Request

from callquality.config import Settings
from callquality.domain.client import ClientInfo
from callquality.service import geo

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=8)
def trusted_networks(setting: str) -> tuple[Network, ...]:
    """The networks of a TRUSTED_PROXIES value; ValueError names the bad entry."""
    networks = []
    for entry in (e.strip() for e in setting.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ValueError(
                f"TRUSTED_PROXIES: {entry!r} is not an address or a CIDR network "
                "(e.g. 10.0.0.0/8, 127.0.0.1, ::1)"
            ) from exc
    return tuple(networks)


def _address(text: str) -> Address | None:
    """An address as a hop of X-Forwarded-For writes it (``1.2.3.4``, ``1.2.3.4:80``,
    ``[2001:db8::1]:80``, ``2001:db8::1``), or None."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, networks: tuple[Network, ...]) -> bool:
    return any(address in network for network in networks)


def client_address(
    peer: str | None, forwarded_for: list[str], networks: tuple[Network, ...]
) -> str | None:
    """The client's address (None when it cannot be known). ``forwarded_for``: every
    X-Forwarded-For header of the request, in order."""
    address = _address(peer) if peer else None
    if address is None or not _trusted(address, networks):
        return str(address) if address is not None else None
    hops = [hop for header in forwarded_for for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        hop_address = _address(hop)
        if hop_address is None:
            return None  # a hop no proxy would write: the client is not known
        address = hop_address
        if not _trusted(address, networks):
            return str(address)
    return str(address)  # every hop is a trusted proxy: the farthest of them


def request_location(request: Request, settings: Settings) -> ClientInfo | None:
    """Where the request's client is (GeoIP), or None without a database or an address.
    The address lives only in this call."""
    lookup = geo.resolver(settings.geoip_city_db, settings.geoip_asn_db)
    if lookup is None:
        return None
    peer = request.client.host if request.client is not None else None
    address = client_address(
        peer, request.headers.getlist("x-forwarded-for"),
        trusted_networks(settings.trusted_proxies),
    )
    return lookup.resolve(address) if address is not None else None
