"""Who a participant is on: device and browser, SDK and app, location, network, connection.

One flat record per (session, participant), every field optional (None: unknown). A report
adds what it knows; a later known value replaces an older one (``merged``).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, fields, replace
from typing import Any

# The longest value stored of each field (store/schema.py, participant_clients); longer
# values (a parser's or a database's, never the client's: it is validated) are cut.
MAX_LENGTHS = {
    "browser_name": 64,
    "browser_version": 64,
    "os_name": 64,
    "os_version": 64,
    "device_type": 32,
    "device_model": 128,
    "sdk_name": 64,
    "sdk_version": 64,
    "app_name": 128,
    "app_version": 64,
    "country": 8,
    "city": 128,
    "region": 128,
    "asn": 16,
    "org": 200,
    "candidate_type": 16,
    "protocol": 8,
    "relay_protocol": 8,
    "network_type": 32,
}


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """What is known of a participant's client; None where unknown."""

    # deviceInfo: the browser (VideoSDK's deviceName/deviceVersion), the OS, the device
    browser_name: str | None = None
    browser_version: str | None = None
    os_name: str | None = None
    os_version: str | None = None
    device_type: str | None = None  # desktop | mobile | tablet | ... (as the client says)
    device_model: str | None = None
    # sdkInfo: the library that sent the statistics, and the app around it
    sdk_name: str | None = None
    sdk_version: str | None = None
    app_name: str | None = None
    app_version: str | None = None
    # location and network: from the client's address, resolved and then forgotten
    country: str | None = None  # ISO 3166-1 alpha-2
    city: str | None = None
    region: str | None = None  # the first subdivision (state, county, ...)
    asn: str | None = None  # "AS1221"
    org: str | None = None
    # connection: the local candidate of the selected ICE candidate pair
    candidate_type: str | None = None  # host | srflx | prflx | relay
    protocol: str | None = None  # udp | tcp (client to its first hop)
    relay_protocol: str | None = None  # udp | tcp | tls (client to the TURN server)
    network_type: str | None = None  # ethernet | wifi | cellular | vpn | ...

    def merged(self, newer: ClientInfo) -> ClientInfo:
        """This record updated with every field ``newer`` knows."""
        values = merged_values(astuple(self), astuple(newer))
        return self if values == astuple(self) else ClientInfo(*values)

    def is_empty(self) -> bool:
        """Whether nothing is known."""
        return astuple(self) == _NOTHING

    def clipped(self) -> ClientInfo:
        """The record with every value cut to its stored length."""
        long = {
            name: value[:limit]
            for name, limit in MAX_LENGTHS.items()
            if isinstance(value := getattr(self, name), str) and len(value) > limit
        }
        return replace(self, **long) if long else self


FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ClientInfo))
EMPTY = ClientInfo()
_NOTHING = (None,) * len(FIELDS)
# A record's values in FIELDS order, read at C speed (dataclasses.astuple copies deeply,
# and the record is read on every item of every request: service/clients.py).
astuple = operator.attrgetter(*FIELDS)


def merged_values(older: tuple[Any, ...], newer: tuple[Any, ...]) -> tuple[Any, ...]:
    """Values in FIELDS order: each of ``newer``'s that is known, else ``older``'s."""
    return tuple(o if n is None else n for o, n in zip(older, newer, strict=True))
