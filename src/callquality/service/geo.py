"""Where a client is: its address looked up in MaxMind-format databases (GeoIP2/GeoLite2
City and ASN ``.mmdb``), read with MaxMind's ``maxminddb`` reader.

The address is personal data: it is looked up and forgotten. Nothing here stores, caches or
logs it; only the country, city, region, ASN and organisation it resolved to are kept
(docs/api.md, "Client info").
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

import maxminddb

from callquality.domain.client import ClientInfo


class GeoDatabaseError(ValueError):
    """A configured database cannot be read (the message names the setting)."""


def _open(path: str, setting: str) -> Any:
    try:
        return maxminddb.open_database(path)
    except (OSError, maxminddb.InvalidDatabaseError, ValueError) as exc:
        raise GeoDatabaseError(
            f"{setting}={path!r} is not a readable MaxMind .mmdb file ({exc.__class__.__name__}); "
            "fix the path or leave the setting empty"
        ) from exc


def _english(record: Any) -> str | None:
    if not isinstance(record, dict):
        return None
    names = record.get("names")
    name = names.get("en") if isinstance(names, dict) else None
    return name if isinstance(name, str) and name else None


class GeoResolver:
    """Lookups in a City and/or an ASN database (either may be absent)."""

    def __init__(self, city_path: str, asn_path: str) -> None:
        self._city = _open(city_path, "GEOIP_CITY_DB") if city_path else None
        self._asn = _open(asn_path, "GEOIP_ASN_DB") if asn_path else None

    def resolve(self, address: str) -> ClientInfo | None:
        """Country (ISO code), city, first subdivision, ASN and organisation of an address;
        None when the address is not valid or no database knows it."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        info = ClientInfo()
        if self._city is not None:
            city = self._city.get(ip)
            if isinstance(city, dict):
                country = city.get("country")
                subdivisions = city.get("subdivisions")
                info = info.merged(
                    ClientInfo(
                        country=country.get("iso_code") if isinstance(country, dict) else None,
                        city=_english(city.get("city")),
                        region=(
                            _english(subdivisions[0])
                            if isinstance(subdivisions, list) and subdivisions else None
                        ),
                    )
                )
        if self._asn is not None:
            asn = self._asn.get(ip)
            if isinstance(asn, dict):
                number = asn.get("autonomous_system_number")
                org = asn.get("autonomous_system_organization")
                info = info.merged(
                    ClientInfo(
                        asn=f"AS{number}" if isinstance(number, int) else None,
                        org=org if isinstance(org, str) and org else None,
                    )
                )
        return None if info.is_empty() else info.clipped()


@lru_cache(maxsize=4)
def resolver(city_path: str, asn_path: str) -> GeoResolver | None:
    """The process's resolver of these databases (opened once), or None without any."""
    if not city_path and not asn_path:
        return None
    return GeoResolver(city_path, asn_path)
