"""The ``client`` object of an ingest item (docs/api.md, "Client info"), validated into a
``ClientInfo``: the user agent and client hints parsed, the SDK and app as sent.

Every string is bounded and printable; a wrong type or a too-long value is a 400 that
names the field (``items[0].client.userAgent``), as for the rest of the item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import msgspec
from pydantic import BaseModel, ConfigDict, Field

from callquality.domain.client import ClientInfo
from callquality.ingest.client import Brand, ClientHints, from_client_hints, from_user_agent

# Real user agents are a few hundred characters; 1 KiB leaves room for apps that append.
MAX_USER_AGENT = 1024
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
_NETWORK_TYPE = r"^[A-Za-z0-9_.-]*$"


Short = Annotated[str, Field(max_length=64, pattern=_PRINTABLE)]
Medium = Annotated[str, Field(max_length=128, pattern=_PRINTABLE)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)


class BrandIn(_Strict):
    brand: Short
    version: Short


class UserAgentDataIn(_Strict):
    """``navigator.userAgentData`` (its toJSON()) and ``getHighEntropyValues()``."""

    brands: Annotated[list[BrandIn], Field(max_length=16)] | None = None
    full_version_list: Annotated[list[BrandIn], Field(max_length=16)] | None = Field(
        None, alias="fullVersionList"
    )
    mobile: bool | None = None
    platform: Short | None = None
    platform_version: Short | None = Field(None, alias="platformVersion")
    model: Medium | None = None
    architecture: Short | None = None
    bitness: Short | None = None
    wow64: bool | None = None
    ua_full_version: Short | None = Field(None, alias="uaFullVersion")
    form_factors: Annotated[list[Short], Field(max_length=16)] | None = Field(
        None, alias="formFactors"
    )


class ClientIn(_Strict):
    user_agent: Annotated[str, Field(max_length=MAX_USER_AGENT, pattern=_PRINTABLE)] | None = (
        Field(None, alias="userAgent")
    )
    user_agent_data: UserAgentDataIn | None = Field(None, alias="userAgentData")
    sdk_name: Short | None = Field(None, alias="sdkName")
    sdk_version: Short | None = Field(None, alias="sdkVersion")
    app_name: Medium | None = Field(None, alias="appName")
    app_version: Short | None = Field(None, alias="appVersion")
    device_type: Annotated[str, Field(max_length=32, pattern=_PRINTABLE)] | None = Field(
        None, alias="deviceType"
    )
    device_model: Medium | None = Field(None, alias="deviceModel")
    os_name: Short | None = Field(None, alias="osName")
    os_version: Short | None = Field(None, alias="osVersion")
    network_type: Annotated[str, Field(max_length=32, pattern=_NETWORK_TYPE)] | None = (
        Field(None, alias="networkType")
    )


# The fast path's twins (api/ingest_models.py, ItemBytes): the same fields and constraints
# as msgspec Structs.


def search_pattern(pattern: str) -> str:
    """A ``^...$`` pattern as re.search (msgspec) must spell it to match what Rust's does:
    re.search's ``$`` also matches before a final newline, pydantic's (Rust) regex not."""
    assert pattern.startswith("^") and pattern.endswith("$")
    return r"\A" + pattern[1:-1] + r"\Z"


class BytesStruct(msgspec.Struct, forbid_unknown_fields=True, rename="camel", gc=False):
    """A fast-path Struct. Decoded from JSON only, so never part of a reference cycle: not
    tracked by the GC."""


_PRINTABLE_B = search_pattern(_PRINTABLE)
_ShortB = Annotated[str, msgspec.Meta(max_length=64, pattern=_PRINTABLE_B)]
_MediumB = Annotated[str, msgspec.Meta(max_length=128, pattern=_PRINTABLE_B)]


class BrandBytes(BytesStruct):
    brand: _ShortB
    version: _ShortB


class UserAgentDataBytes(BytesStruct):
    brands: Annotated[list[BrandBytes], msgspec.Meta(max_length=16)] | None = None
    full_version_list: Annotated[list[BrandBytes], msgspec.Meta(max_length=16)] | None = None
    mobile: bool | None = None
    platform: _ShortB | None = None
    platform_version: _ShortB | None = None
    model: _MediumB | None = None
    architecture: _ShortB | None = None
    bitness: _ShortB | None = None
    wow64: bool | None = None
    ua_full_version: _ShortB | None = None
    form_factors: Annotated[list[_ShortB], msgspec.Meta(max_length=16)] | None = None


class ClientBytes(BytesStruct):
    user_agent: Annotated[
        str, msgspec.Meta(max_length=MAX_USER_AGENT, pattern=_PRINTABLE_B)
    ] | None = None
    user_agent_data: UserAgentDataBytes | None = None
    sdk_name: _ShortB | None = None
    sdk_version: _ShortB | None = None
    app_name: _MediumB | None = None
    app_version: _ShortB | None = None
    device_type: Annotated[str, msgspec.Meta(max_length=32, pattern=_PRINTABLE_B)] | None = None
    device_model: _MediumB | None = None
    os_name: _ShortB | None = None
    os_version: _ShortB | None = None
    network_type: Annotated[
        str, msgspec.Meta(max_length=32, pattern=search_pattern(_NETWORK_TYPE))
    ] | None = None


def _brands(items: Sequence[BrandIn | BrandBytes] | None) -> tuple[Brand, ...]:
    return tuple(Brand(b.brand, b.version) for b in items or ())


def client_info(client: ClientIn | ClientBytes | None) -> ClientInfo | None:
    """What a ``client`` object says: client hints over the parsed user agent, and the
    fields the client names itself over both."""
    if client is None:
        return None
    info = ClientInfo()
    if client.user_agent:
        info = info.merged(from_user_agent(client.user_agent))
    data = client.user_agent_data
    if data is not None:
        info = info.merged(
            from_client_hints(
                ClientHints(
                    brands=_brands(data.brands),
                    full_version_list=_brands(data.full_version_list),
                    mobile=data.mobile,
                    platform=data.platform,
                    platform_version=data.platform_version,
                    model=data.model,
                )
            )
        )
    stated = ClientInfo(
        os_name=client.os_name or None,
        os_version=client.os_version or None,
        device_type=client.device_type or None,
        device_model=client.device_model or None,
        sdk_name=client.sdk_name or None,
        sdk_version=client.sdk_version or None,
        app_name=client.app_name or None,
        app_version=client.app_version or None,
        network_type=client.network_type or None,
    )
    return info.merged(stated).clipped()
