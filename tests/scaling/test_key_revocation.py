"""`callquality keys list / revoke / purge --api-key`, as an operator runs them against two
running `callquality serve` processes on one database (SQLite file and PostgreSQL)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from conftest import fresh_pg_database
from support.items import T0, sample_item
from support.processes import CLI, create_key, serve_process

from callquality.store.db import create_store_engine, read_transaction
from callquality.store.schema import metadata, participant_clients, sessions
from callquality.tokens import make_token


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cq.db'}"
        return
    with fresh_pg_database("cq_keys") as url:
        yield url


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args, "--database-url", database_url], capture_output=True,
                          text=True, timeout=60)


def _listed(database_url: str) -> dict[str, dict[str, object]]:
    done = _cli(database_url, "keys", "list", "--json")
    assert done.returncode == 0, done.stderr
    return {k["apiKey"]: k for k in json.loads(done.stdout)}  # type: ignore[index]


def test_a_revoked_keys_tokens_get_401_at_once_in_every_process_and_its_data_stays(
    database_url: str,
) -> None:
    api_key, secret = create_key(database_url)
    other_key, other_secret = create_key(database_url)
    token = make_token(api_key, secret)
    other = make_token(other_key, other_secret)
    with serve_process(database_url) as (first, _), serve_process(database_url) as (second, _):
        headers = {"Authorization": token}
        for url in (first, second):  # both processes now hold the secret in their cache
            posted = httpx.post(f"{url}/v2/stats", json=sample_item("r", "p", T0 + 5000),
                                headers=headers, timeout=10)
            assert posted.status_code == 202, posted.text
            assert httpx.get(f"{url}/v2/sessions/", headers=headers).status_code == 200

        revoked = _cli(database_url, "keys", "revoke", api_key)
        assert revoked.returncode == 0, revoked.stderr
        assert "its data is kept" in revoked.stdout

        for url in (first, second):  # well within the 60 s the secrets are cached for
            for answer in (
                httpx.get(f"{url}/v2/sessions/", headers=headers),
                httpx.post(f"{url}/v2/stats", json=sample_item("r", "p", T0 + 10_000),
                           headers=headers, timeout=10),
            ):
                assert answer.status_code == 401, answer.text
                assert "revoked" in answer.json()["message"]
            # Another key is not affected.
            assert httpx.get(f"{url}/v2/sessions/",
                             headers={"Authorization": other}).status_code == 200

    keys = _listed(database_url)
    assert keys[api_key]["revokedAt"] is not None and keys[api_key]["sessions"] == 1
    assert keys[other_key]["revokedAt"] is None
    assert "secret" not in json.dumps(keys).lower() and secret not in json.dumps(keys)


def test_purge_deletes_a_revoked_keys_sessions_only(database_url: str) -> None:
    api_key, secret = create_key(database_url)
    other_key, other_secret = create_key(database_url)
    with serve_process(database_url) as (url, _):
        for key, sec in ((api_key, secret), (other_key, other_secret)):
            items = [sample_item(f"room-{n}", "p", T0 + 5000, client={"sdkName": "s"})
                     for n in range(3)]
            answer = httpx.post(f"{url}/v2/stats", json=items,
                                headers={"Authorization": make_token(key, sec)}, timeout=10)
            assert answer.status_code == 202, answer.text
    refused = _cli(database_url, "purge", "--api-key", api_key)
    assert refused.returncode == 1 and "revoke it first" in refused.stderr
    assert _listed(database_url)[api_key]["sessions"] == 3

    engine = create_store_engine(database_url)
    with read_transaction(engine) as conn:
        ids = list(conn.execute(
            sa.select(sessions.c.session_id).where(sessions.c.api_key == api_key)).scalars())
        kept = list(conn.execute(
            sa.select(sessions.c.session_id).where(sessions.c.api_key == other_key)).scalars())
    assert _cli(database_url, "keys", "revoke", api_key).returncode == 0
    purged = _cli(database_url, "purge", "--api-key", api_key)
    assert purged.returncode == 0, purged.stderr
    assert "deleted 3 sessions" in purged.stdout
    keys = _listed(database_url)
    assert keys[api_key]["sessions"] == 0 and keys[other_key]["sessions"] == 3
    with read_transaction(engine) as conn:
        for table in metadata.sorted_tables:
            if "session_id" not in table.c:
                continue
            count = conn.execute(sa.select(sa.func.count()).select_from(table).where(
                table.c.session_id.in_(ids))).scalar_one()
            assert count == 0, table.name
        assert conn.execute(sa.select(sa.func.count()).select_from(participant_clients).where(
            participant_clients.c.session_id.in_(kept))).scalar_one() == 3
    engine.dispose()
    missing = _cli(database_url, "keys", "revoke", "no-such-key")
    assert missing.returncode == 1 and "keys list" in missing.stderr
