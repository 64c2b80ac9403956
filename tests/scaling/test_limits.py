"""Rate limit (429 + Retry-After, per API key) and body limits (413) over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.items import T0, sample_item
from support.server import RunningServer, serve

from callquality.api.ratelimit import RateLimiter
from callquality.config import Settings
from callquality.domain.errors import RateLimited


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('limits')) / 'cq.db'}"
    settings = Settings(
        database_url=url, rate_limit_per_s=0.5, rate_limit_burst=3, max_body_bytes=20_000
    )
    with serve(settings) as running:
        yield running


def test_a_key_over_its_rate_gets_429_with_retry_after(limited: RunningServer) -> None:
    tenant = limited.new_tenant()
    with limited.client(tenant) as client:
        codes = [
            client.post("/v2/stats", json=sample_item("r", "p", T0 + i * 5000)).status_code
            for i in range(3)
        ]
        assert codes == [202, 202, 202]  # the burst
        refused = client.get("/v2/sessions/")  # read routes share the key's bucket
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    body = refused.json()
    assert body["statusCode"] == 429 and body["error"] == "Too Many Requests"
    assert "Retry-After" in refused.headers.get("access-control-expose-headers", "Retry-After")


def test_another_key_is_not_limited_by_the_first(limited: RunningServer) -> None:
    first, second = limited.new_tenant(), limited.new_tenant()
    with limited.client(first) as client:
        for _ in range(4):
            client.get("/v2/sessions/")
        assert client.get("/v2/sessions/").status_code == 429
    with limited.client(second) as client:
        assert client.get("/v2/sessions/").status_code == 200


def test_the_bucket_refills_at_the_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(2.0, burst=2, clock=lambda: now[0])
    limiter.check("k")
    limiter.check("k")
    with pytest.raises(RateLimited) as refused:
        limiter.check("k")
    assert refused.value.retry_after_s == 1
    now[0] = 0.5  # one token back at 2/s
    limiter.check("k")
    with pytest.raises(RateLimited):
        limiter.check("k")


def test_a_zero_rate_is_no_limit() -> None:
    limiter = RateLimiter(0.0)
    for _ in range(1000):
        limiter.check("k")


def test_an_ingest_body_over_the_limit_is_413(limited: RunningServer) -> None:
    tenant = limited.new_tenant()
    items = [sample_item("r", "p", T0 + i * 5000) for i in range(60)]  # ~50 KB
    with limited.client(tenant) as client:
        answer = client.post("/v2/stats", json=items)
    assert answer.status_code == 413
    assert answer.json()["error"] == "Payload Too Large"


def test_a_session_end_body_over_the_limit_is_413(limited: RunningServer) -> None:
    tenant = limited.new_tenant()
    huge = b'{"roomId": "' + b"x" * 30_000 + b'"}'
    with limited.client(tenant) as client:
        declared = client.post(
            "/v2/sessions/end", content=huge, headers={"Content-Type": "application/json"}
        )

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            for start in range(0, len(huge), 4096):
                yield huge[start : start + 4096]

        streamed = client.post(
            "/v2/sessions/end", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert declared.status_code == 413, declared.text
    assert streamed.status_code == 413, streamed.text
    assert streamed.json()["statusCode"] == 413


def test_an_ingest_request_costs_its_items() -> None:
    now = [0.0]
    items = RateLimiter(100.0, burst=1000, clock=lambda: now[0], what="items per second")
    items.check("k", 1000)  # a full batch: the whole burst
    with pytest.raises(RateLimited) as refused:
        items.check("k", 100)
    assert refused.value.retry_after_s == 1  # 100 items at 100/s
    assert "items per second" in refused.value.message
    now[0] = 1.0
    items.check("k", 100)


def test_require_takes_no_token() -> None:
    now = [0.0]
    limiter = RateLimiter(1.0, burst=1, clock=lambda: now[0])
    for _ in range(5):
        limiter.require("address")
    limiter.check("address")
    with pytest.raises(RateLimited):
        limiter.require("address")


def test_the_item_burst_is_never_below_a_full_batch() -> None:
    assert RateLimiter(10.0, min_burst=1000).burst == 1000
    assert RateLimiter(1000.0, min_burst=1000).burst == 2000  # twice the rate
    assert RateLimiter(10.0, burst=50, min_burst=1000).burst == 50  # as configured


def test_limits_are_on_by_default(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'cq.db'}")
    with serve(settings) as running:
        tenant = running.new_tenant()
        batch = [sample_item("r", f"p{i}", T0) for i in range(settings.max_batch_items)]
        with running.client(tenant) as client:
            codes = [client.post("/v2/stats", json=batch).status_code for _ in range(6)]
    # RATE_LIMIT_ITEMS_PER_S 1000, burst 2000: two full batches at once, then a wait (each
    # request refills what its own time took, less than the 1000 it costs)
    assert codes[:2] == [202, 202] and 429 in codes
