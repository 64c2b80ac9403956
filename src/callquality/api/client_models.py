"""The ``client`` object of an ingest item (docs/api.md, "Client info"), validated into a
``ClientInfo``: the user agent and client hints parsed, the SDK and app as sent.

Every string is bounded and printable; a wrong type or a too-long value is a 400 that
names the field (``items[0].client.userAgent``), as for the rest of the item.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from callquality.domain.client import ClientInfo
from callquality.ingest.client import Brand, ClientHints, from_client_hints, from_user_agent

# Real user agents are a few hundred characters; 1 KiB leaves room for apps that append.
MAX_USER_AGENT = 1024
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"


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
    network_type: Annotated[str, Field(max_length=32, pattern=r"^[A-Za-z0-9_.-]*$")] | None = (
        Field(None, alias="networkType")
    )


def _brands(items: list[BrandIn] | None) -> tuple[Brand, ...]:
    return tuple(Brand(b.brand, b.version) for b in items or ())


def client_info(client: ClientIn | None) -> ClientInfo | None:
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
