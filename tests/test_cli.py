"""The CLI as the README uses it (`serve --demo`, `keys create`, `token`, `settings`), and
as a new user gets it wrong."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import jwt
import pytest
import sqlalchemy as sa
from conftest import FIXTURES, PG_ADMIN_URL
from support.processes import CLI
from support.server import free_port


def test_serve_demo_prints_a_working_token_and_a_demo_session(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [CLI, "serve", "--demo", "--port", str(port), "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Demo stats"):
                break
        out = "".join(lines)
        token = re.search(r"export CQ_TOKEN=(\S+)", out).group(1)  # type: ignore[union-attr]
        stats_url = re.search(r"(http://\S+/stats)", out).group(1)  # type: ignore[union-attr]
        assert f"http://127.0.0.1:{port}/dashboard" in out
        deadline = time.time() + 20
        while True:
            try:
                response = httpx.get(stats_url, headers={"Authorization": token})
                break
            except httpx.TransportError:
                assert time.time() < deadline, "the server did not come up"
                time.sleep(0.1)
        assert response.status_code == 200
        stats = response.json()["stats"]
        assert len(stats) >= 10 and stats[0]["qualityScore"]["audio"] is not None
        people = httpx.get(stats_url.rsplit("/", 1)[0], headers={"Authorization": token}).json()
        assert len(people["participants"]) == 4
    finally:
        proc.terminate()
        proc.wait(10)
    # A second start reuses the demo key and session.
    again = subprocess.Popen(
        [CLI, "serve", "--demo", "--port", str(free_port()), "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert again.stdout is not None
        second = ""
        for line in again.stdout:
            second += line
            if line.startswith("Demo stats"):
                break
    finally:
        again.terminate()
        again.wait(10)
    assert re.search(r"API key: (\w+)", second).group(1) in out  # type: ignore[union-attr]
    assert stats_url.rsplit(":", 1)[1].split("/", 1)[1] in second


def test_keys_create_and_token(tmp_path: Path) -> None:
    created = subprocess.run(
        [CLI, "keys", "create", "--json", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, check=True,
    )
    key = json.loads(created.stdout)
    token = subprocess.run(
        [CLI, "token", "--api-key", key["apiKey"], "--secret", key["secret"], "--role", "rtc",
         "--room-id", "r1", "--participant-id", "p1", "--ttl", "60"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    claims = jwt.decode(token, key["secret"], algorithms=["HS256"])
    assert claims["apikey"] == key["apiKey"] and claims["roles"] == ["rtc"]
    assert claims["roomId"] == "r1" and claims["participantId"] == "p1"
    assert claims["version"] == 2 and claims["permissions"] == ["allow_join"]
    assert claims["exp"] - claims["iat"] == 60
    bad = subprocess.run(
        [CLI, "token", "--api-key", "k", "--secret", "s", "--role", "admin"],
        capture_output=True, text=True,
    )
    assert bad.returncode != 0 and "crawler, rtc or janus" in bad.stderr
    janus = subprocess.run(
        [CLI, "token", "--api-key", key["apiKey"], "--secret", key["secret"], "--role", "janus",
         "--ttl", "31536000"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    claims = jwt.decode(janus, key["secret"], algorithms=["HS256"])
    assert claims["roles"] == ["janus"] and claims["exp"] - claims["iat"] == 31536000


def test_settings_lists_every_environment_variable() -> None:
    out = subprocess.run([CLI, "settings"], capture_output=True, text=True, check=True).stdout
    for name in ("DATABASE_URL", "RETENTION_DAYS", "IDLE_TIMEOUT_S", "MAX_BODY_BYTES"):
        assert name in out


# -- the first hour of a new user (issue 21): each mistake is one line, exit 1 -------------

DUMP = "webrtc-internals/chrome86-two-pcs.json"


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it: a subprocess, its own environment on top of this one."""
    return subprocess.run(
        [CLI, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd,
        env={**os.environ, "COLUMNS": "80", **(env or {})},
    )


def one_line_failure(done: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a command that failed with exit 1 and printed nothing else."""
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("callquality: ")
    return lines[0]


def _pg_url(database: str, password: str) -> str:
    """The test PostgreSQL's URL as a user writes it, with a password and another database."""
    parts = urlsplit(PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://", 1))
    netloc = f"{parts.username}:{password}@{parts.hostname}:{parts.port or 5432}"
    return f"postgresql://{netloc}/{database}"


# Every command that opens the database, with what it needs besides.
DATABASE_COMMANDS = {
    "serve": ["serve", "--port", "0"],
    "keys create": ["keys", "create"],
    "stats": ["stats", "0123456789abcdef01234567"],
    "import": ["import", str(FIXTURES / DUMP)],
    "purge": ["purge"],
}


@pytest.mark.parametrize("command", DATABASE_COMMANDS)
def test_a_database_that_does_not_exist_is_named_in_one_line_with_its_password_hidden(
    command: str,
) -> None:
    url = _pg_url("cq_no_such_database", "hunter2")
    line = one_line_failure(run_cli(*DATABASE_COMMANDS[command], env={"DATABASE_URL": url}))
    assert 'database "cq_no_such_database" does not exist' in line
    assert "hunter2" not in line and url.replace("hunter2", "***") in line
    for form in ("postgresql://", "postgres://", "postgresql+psycopg://", "sqlite:///"):
        assert form in line


@pytest.mark.parametrize("command", DATABASE_COMMANDS)
def test_a_mysql_url_is_not_supported_and_says_what_is(command: str) -> None:
    env = {"DATABASE_URL": "mysql://root:hunter2@localhost/calls"}
    line = one_line_failure(run_cli(*DATABASE_COMMANDS[command], env=env))
    assert "not supported" in line and "MySQL" in line and "hunter2" not in line
    assert "postgresql://" in line and "sqlite:///" in line


@pytest.mark.parametrize("command", DATABASE_COMMANDS)
def test_a_host_and_port_without_a_scheme_says_which_form_to_write(command: str) -> None:
    line = one_line_failure(run_cli(*DATABASE_COMMANDS[command],
                                    env={"DATABASE_URL": "localhost:5432"}))
    assert "has no scheme" in line
    assert "postgresql://user:password@localhost:5432/dbname" in line


def test_a_database_server_that_is_not_listening_is_named_in_one_line() -> None:
    url = f"postgresql://postgres:hunter2@127.0.0.1:{free_port()}/cq"
    line = one_line_failure(run_cli("keys", "create", env={"DATABASE_URL": url}))
    assert "Connection refused" in line and "hunter2" not in line
    assert "postgres:***@127.0.0.1" in line


def test_a_sqlite_path_that_is_a_folder_is_named_in_one_line(tmp_path: Path) -> None:
    line = one_line_failure(
        run_cli("keys", "create", env={"DATABASE_URL": f"sqlite:///{tmp_path}"}))
    assert f"sqlite:///{tmp_path}" in line and "unable to open database file" in line


def test_a_setting_of_the_wrong_type_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    line = one_line_failure(run_cli("purge", "--data-dir", str(tmp_path),
                                    env={"RETENTION_DAYS": "thirty"}))
    assert "RETENTION_DAYS='thirty'" in line and "int" in line


def test_serve_on_a_busy_port_says_so_in_one_line_and_prints_no_banner(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli("serve", "--demo", "--port", str(port), "--data-dir", str(tmp_path))
    line = one_line_failure(done)  # stdout empty: no key, token or URL was printed
    assert f"127.0.0.1:{port}" in line and "in use" in line and "--port" in line
    assert not (tmp_path / "callquality.db").exists(), "it bound before touching the database"


def test_import_of_a_missing_file_is_one_line(tmp_path: Path) -> None:
    line = one_line_failure(run_cli("import", "missing.json", "--data-dir", str(tmp_path),
                                    cwd=tmp_path))
    assert line == "callquality: cannot read missing.json: No such file or directory"
    assert not (tmp_path / "callquality.db").exists()


def _sessions(tmp_path: Path) -> list[tuple[str, str]]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'callquality.db'}")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT session_id, room_id FROM sessions")).all()
    engine.dispose()
    return sorted((str(r[0]), str(r[1])) for r in rows)


def test_the_same_dump_twice_is_refused_unless_again(tmp_path: Path) -> None:
    dump = tmp_path / "chrome86-two-pcs.json"
    dump.write_bytes((FIXTURES / DUMP).read_bytes())
    first = run_cli("import", str(dump), "--data-dir", str(tmp_path), timeout=120)
    assert first.returncode == 0, first.stderr
    session_id = first.stdout.split("into session ")[1].split()[0]
    # The room is the file's name without its extension.
    assert _sessions(tmp_path) == [(session_id, "import-chrome86-two-pcs")]

    again = run_cli("import", str(dump), "--data-dir", str(tmp_path), timeout=120)
    assert again.returncode == 1 and again.stdout == ""
    message = again.stderr.splitlines()[-1]  # after the progress bar
    assert message.startswith("callquality: chrome86-two-pcs.json is already imported")
    assert session_id in message and "--again" in message and "nothing imported" in message
    assert _sessions(tmp_path) == [(session_id, "import-chrome86-two-pcs")]

    forced = run_cli("import", str(dump), "--again", "--data-dir", str(tmp_path), timeout=120)
    assert forced.returncode == 0, forced.stderr
    second = forced.stdout.split("into session ")[1].split()[0]
    assert second != session_id
    assert _sessions(tmp_path) == sorted(
        [(session_id, "import-chrome86-two-pcs"), (second, "import-chrome86-two-pcs")])


def test_token_refuses_a_lifetime_that_is_not_positive() -> None:
    for ttl in ("-5", "0"):
        line = one_line_failure(run_cli("token", "--api-key", "a" * 32, "--secret", "b" * 64,
                                        "--ttl", ttl))
        assert f"--ttl {ttl}" in line and "positive number of seconds" in line


def test_token_refuses_the_placeholders_of_the_docs() -> None:
    line = one_line_failure(run_cli("token", "--api-key", "KEY", "--secret", "SECRET",
                                    "--role", "crawler"))
    assert "--api-key KEY and --secret SECRET" in line
    assert "paste the API key and the secret that `callquality keys create` printed" in line
    real_secret = "c" * 64
    line = one_line_failure(run_cli("token", "--api-key", "KEY", "--secret", real_secret))
    assert real_secret not in line  # only the placeholder is echoed


def test_stats_at_80_columns_shows_every_time_and_number_whole(tmp_path: Path) -> None:
    imported = run_cli("import", str(FIXTURES / "webrtc-internals/chrome144-two-pcs.json"),
                       "--data-dir", str(tmp_path), "--room-id", "r", timeout=120)
    assert imported.returncode == 0, imported.stderr
    session_id = imported.stdout.split("into session ")[1].split()[0]
    from callquality.query.stats import time_series
    from callquality.store.writes import session_by_id

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'callquality.db'}")
    with engine.connect() as conn:
        session = session_by_id(conn, session_id)
        assert session is not None
        buckets = time_series(conn, session_id, session.start_ms, interval_s=5)
    engine.dispose()
    table = run_cli("stats", session_id, "--interval", "5", "--data-dir", str(tmp_path))
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert "…" not in table.stdout
    rows = [line.split() for line in lines if re.match(r"^\d\d:\d\d:\d\d ", line)]
    assert len(rows) == len(buckets) > 1
    for row, bucket in zip(rows, buckets, strict=True):
        assert row[0] == time.strftime("%H:%M:%S", time.gmtime(bucket.start_ms // 1000))
        assert len(row) == 9
        assert row[1] == ("–" if bucket.audio_mos is None else f"{bucket.audio_mos:.2f}")


def test_the_served_socket_sends_small_answers_at_once() -> None:
    """uvicorn serves an inherited socket (fd=) as AF_UNIX, so asyncio never sets TCP_NODELAY
    on its connections; without it Nagle held each answer's last segment for the client's
    delayed ACK: every answer took >= 40 ms (docs/performance.md). The accepted connections
    inherit the listening socket's TCP_NODELAY."""
    from callquality.cli import listen

    server = listen("127.0.0.1", 0)
    server.listen()
    try:
        with socket.create_connection(server.getsockname()) as client:
            accepted, _ = server.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            assert client  # the connection was made
    finally:
        server.close()
