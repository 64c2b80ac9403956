"""The ``callquality`` command: serve, keys, token, stats, import, demo."""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from callquality.config import (
    SETTINGS,
    SETTINGS_BY_NAME,
    DatabaseUrlError,
    Settings,
    export_to_environment,
    hide_password,
    load_settings,
    settings_markdown,
)
from callquality.logs import configure_logging
from callquality.store.db import (
    DatabaseOpenError,
    open_store,
    read_transaction,
    write_transaction,
)

app = typer.Typer(help="callquality: WebRTC call-quality statistics.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
console = Console()
err_console = Console(stderr=True)

DatabaseUrl = Annotated[
    str | None, typer.Option("--database-url", help=SETTINGS_BY_NAME["database_url"].help)
]
DataDir = Annotated[str | None, typer.Option("--data-dir", help=SETTINGS_BY_NAME["data_dir"].help)]


def fail(message: str) -> NoReturn:
    """Print one line to stderr (``callquality: ...``, never wrapped) and exit 1."""
    typer.echo(f"callquality: {message}", err=True)
    raise typer.Exit(1)


def _settings(database_url: str | None, data_dir: str | None) -> Settings:
    try:
        return load_settings(database_url=database_url, data_dir=data_dir)
    except ValueError as exc:  # a setting's text is not of its type; names the variable
        fail(str(exc))


def _engine(settings: Settings) -> Any:
    """The migrated store, or one line naming why it cannot be opened (no traceback)."""
    try:
        return open_store(settings.resolved_database_url, as_written=settings.database_url)
    except (DatabaseUrlError, DatabaseOpenError) as exc:
        fail(str(exc))


def _now_ms() -> int:
    return int(time.time() * 1000)


@keys_app.command("create")
def keys_create(
    name: Annotated[str | None, typer.Option(help="a label for the key")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Create an API key and print it with its secret (shown once)."""
    from callquality.store.keys import create_api_key

    engine = _engine(_settings(database_url, data_dir))
    with write_transaction(engine) as conn:
        api_key, secret = create_api_key(conn, name=name, now_ms=_now_ms())
    if as_json:
        typer.echo(json.dumps({"apiKey": api_key, "secret": secret}))
    else:
        typer.echo(f"API key: {api_key}\nSecret:  {secret}")


def _iso(ms: int | None) -> str | None:
    from callquality.domain.timefmt import iso_ms

    return None if ms is None else iso_ms(ms)


@keys_app.command("list")
def keys_list(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """List the API keys (never their secrets): name, created, revoked, sessions."""
    from callquality.store.keys import list_api_keys

    engine = _engine(_settings(database_url, data_dir))
    with read_transaction(engine) as conn:
        found = list_api_keys(conn)
    if as_json:
        typer.echo(json.dumps([
            {"apiKey": k.api_key, "name": k.name, "createdAt": _iso(k.created_ms),
             "revokedAt": _iso(k.revoked_ms), "sessions": k.sessions,
             "lastReportAt": _iso(k.last_report_ms)}
            for k in found
        ]))
        return
    table = Table(title="API keys")
    for title in ("API key", "name", "created (UTC)", "revoked (UTC)", "sessions", "last report"):
        table.add_column(title, no_wrap=title == "API key")
    for k in found:
        table.add_row(
            k.api_key, k.name or "", _iso(k.created_ms) or "", _iso(k.revoked_ms) or "",
            str(k.sessions), _iso(k.last_report_ms) or "",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    api_key: Annotated[str, typer.Argument(help="the API key to revoke")],
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Revoke an API key: its tokens get 401 at once in every server process. Its data is
    kept until `callquality purge --api-key KEY` deletes it."""
    from callquality.store.keys import revoke_api_key

    engine = _engine(_settings(database_url, data_dir))
    with write_transaction(engine) as conn:
        revoked_ms = revoke_api_key(conn, api_key, _now_ms())
    if revoked_ms is None:
        err_console.print(f"no API key {api_key!r}; see `callquality keys list`")
        raise typer.Exit(1)
    typer.echo(f"revoked {api_key} at {_iso(revoked_ms)}; its data is kept "
               f"(delete it with `callquality purge --api-key {api_key}`)")


# The stand-ins of the README and docs/ (`--api-key KEY --secret SECRET`, `K`/`S`): a
# token signed with them is refused by the server as a bad signature or an unknown key.
_PLACEHOLDERS = frozenset({"KEY", "SECRET", "K", "S", "API_KEY", "YOUR_API_KEY", "YOUR_SECRET"})


@app.command()
def token(
    api_key: Annotated[str, typer.Option("--api-key", help="the API key")],
    secret: Annotated[str, typer.Option("--secret", help="its secret")],
    role: Annotated[
        list[str] | None, typer.Option(
            "--role",
            help="crawler (read API), rtc (send statistics) and/or janus (POST "
            "/v2/ingest/janus only, for a Janus event handler)",
        )
    ] = None,
    room_id: Annotated[str | None, typer.Option("--room-id", help="limit to a room")] = None,
    participant_id: Annotated[
        str | None, typer.Option("--participant-id", help="limit to a participant")
    ] = None,
    ttl: Annotated[int, typer.Option("--ttl", help="lifetime in seconds")] = 24 * 3600,
) -> None:
    """Print a JWT (HS256) for the API key."""
    from callquality.tokens import ROLES, make_token

    stand_ins = [
        f"{flag} {value}"
        for flag, value in (("--api-key", api_key), ("--secret", secret))
        if value in _PLACEHOLDERS  # only a placeholder is echoed, never a real secret
    ]
    if stand_ins:
        fail(
            f"{' and '.join(stand_ins)}: placeholder{'s' * (len(stand_ins) > 1)} of the docs; "
            "paste the API key and "
            "the secret that `callquality keys create` printed"
        )
    if ttl <= 0:
        fail(f"--ttl {ttl}: the lifetime must be a positive number of seconds "
             "(the token would have expired when printed), e.g. --ttl 3600")
    roles = tuple(role or ("crawler", "rtc"))
    for r in roles:
        if r not in ROLES:
            raise typer.BadParameter(
                f"unknown role {r!r}; use crawler, rtc or janus", param_hint="--role"
            )
    typer.echo(
        make_token(
            api_key, secret, roles=roles, room_id=room_id, participant_id=participant_id,
            ttl_s=ttl,
        )
    )


def ensure_demo_key(engine: Any) -> tuple[str, str]:
    """The API key named 'demo', created on first use."""
    from sqlalchemy import select

    from callquality.store.keys import create_api_key
    from callquality.store.schema import api_keys

    with write_transaction(engine) as conn:
        row = conn.execute(
            select(api_keys.c.api_key, api_keys.c.secret).where(api_keys.c.name == "demo")
        ).first()
        if row is not None:
            return str(row[0]), str(row[1])
        return create_api_key(conn, name="demo", now_ms=_now_ms())


def listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound before anything is printed; one line and exit 1 if it
    cannot be (a port in use, a port below 1024 without root, an address not of this host).
    """
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:  # socket.gaierror: an unknown host name
        fail(f"cannot listen on {where}: {exc.strerror or exc}; pass --host 127.0.0.1 "
             "(this machine) or --host 0.0.0.0 (every interface)")
    # As uvicorn binds: a port left in TIME_WAIT by a stopped server is free.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # uvicorn serves a descriptor (fd=) as an AF_UNIX socket, so asyncio does not set
    # TCP_NODELAY on its connections as it does for TCP; without it Nagle's algorithm holds
    # each answer's last segment until the client's delayed ACK, ~40 ms an answer
    # (docs/performance.md). Accepted connections inherit it from here (Linux).
    if family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            fail(f"cannot listen on {where}: the port is in use (is callquality already "
                 f"running?); stop that program or pick another port with --port {port + 1}")
        if exc.errno == errno.EACCES:
            fail(f"cannot listen on {where}: ports below 1024 need root; pick another "
                 "port with --port 8080")
        fail(f"cannot listen on {where}: {exc.strerror}")
    sock.set_inheritable(True)  # the worker processes serve it too
    return sock


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8080,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    workers: Annotated[int, typer.Option(help="worker processes")] = 1,
    demo: Annotated[
        bool, typer.Option("--demo", help="create a demo key, seed a demo session, print a token")
    ] = False,
) -> None:
    """Run the HTTP server (migrations run first)."""

    import uvicorn

    settings = _settings(database_url, data_dir)
    configure_logging(settings.log_level)
    # Bind first: a busy port is one line and exit 1, before any banner says "running".
    sock = listen(host, port)
    engine = _engine(settings)
    if demo:
        from callquality.service.demo import seed_demo_session
        from callquality.tokens import make_token

        api_key, secret = ensure_demo_key(engine)
        session_id = seed_demo_session(engine, settings, api_key)
        tok = make_token(api_key, secret, ttl_s=30 * 24 * 3600)
        bound = sock.getsockname()[1]  # the port chosen, for --port 0
        base = f"http://[{host}]:{bound}" if ":" in host else f"http://{host}:{bound}"
        database = hide_password(settings.database_url) or settings.resolved_database_url
        lines = [
            f"callquality on {base}  (database: {database})",
            f"API key: {api_key}",
            f"Secret:  {secret}",
            "",
            "Token (30 days, crawler + rtc):",
            f"export CQ_TOKEN={tok}",
            "",
            f"Dashboard:  {base}/dashboard#token={tok}",
            f"API docs:   {base}/docs",
            f'Demo stats: curl -H "Authorization: $CQ_TOKEN" {base}/v2/sessions/{session_id}/stats',
            "",
        ]
        typer.echo("\n".join(lines))  # plain: a wrapped token would not paste
        sys.stdout.flush()  # before uvicorn takes over (stdout may be a pipe)
    engine.dispose()
    # The app factory reads settings from the environment in each worker.
    export_to_environment(settings.with_overrides(web_concurrency=workers))
    # glibc gives each thread that allocates concurrently an arena of its own (up to 8 per
    # core); the thread pool's threads come and go, and the memory they free stays spread
    # over arenas instead of returning: at 2,000 reports/s a worker's free-but-held memory
    # rose 22 -> 35 MB in 5 minutes while the bytes in use stayed flat (docs/performance.md,
    # "memory"). Two arenas keep it level. Read by glibc when a process starts: it applies
    # to the workers, which uvicorn spawns; an operator's own value is kept.
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    uvicorn.run(
        "callquality.api.server:app",
        fd=sock.fileno(),  # the bound socket, shared by every worker
        workers=workers,
        log_level=settings.log_level,
        log_config=None,
        access_log=False,
        # The client's address is decided by TRUSTED_PROXIES alone (api/forwarded.py):
        # uvicorn would otherwise believe X-Forwarded-For from any loopback peer.
        proxy_headers=False,
        timeout_graceful_shutdown=5,  # live views (SSE) would otherwise hold a stop forever
    )


@app.command()
def stats(
    session_id: Annotated[str, typer.Argument(help="the session id")],
    interval: Annotated[int, typer.Option(help="bucket length in seconds")] = 60,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Print a session's quality time series as a table."""
    from callquality.domain.timefmt import iso_ms
    from callquality.query.stats import Bucket, time_series
    from callquality.store.writes import session_by_id

    settings = _settings(database_url, data_dir)
    engine = _engine(settings)
    with read_transaction(engine) as conn:
        session = session_by_id(conn, session_id)
        if session is None:
            fail(f"no session {session_id!r} in {hide_password(settings.resolved_database_url)}")
        series = time_series(conn, session_id, session.start_ms, interval_s=interval)
    # Two-line headers and no vertical rules: the nine columns fit in 80 columns, and no
    # column is narrower than its widest value, so rich shortens a header, never a number.
    columns: list[tuple[str, Callable[[Bucket], Any], str]] = [
        ("MOS\naudio", lambda b: b.audio_mos, "score"),
        ("Vq\nvideo", lambda b: b.video_vq, "score"),
        ("RTT a\nms", lambda b: b.audio_rtt_ms, "ms"),
        ("jitter\na ms", lambda b: b.audio_jitter_ms, "ms"),
        ("lost\nrecv a", lambda b: b.recv_audio_lost, "count"),
        ("lost\nrecv v", lambda b: b.recv_video_lost, "count"),
        ("send v\nkbps", lambda b: b.send_video_bitrate_bps, "bps"),
        ("recv v\nkbps", lambda b: b.recv_video_bitrate_bps, "bps"),
    ]
    rows = []
    for bucket in series:
        cells = [iso_ms(bucket.start_ms)[11:19]]
        for _, read, unit in columns:
            value = read(bucket)
            if value is None:
                cells.append("–")
            elif unit == "bps":
                cells.append(f"{value / 1000:.0f}")
            elif isinstance(value, float):
                cells.append(f"{value:.2f}")
            else:
                cells.append(str(value))
        rows.append(cells)
    table = Table(
        title=f"session {session_id} (room {session.room_id})",
        box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
    )
    for i, title in enumerate(["time\n(UTC)", *(c[0] for c in columns)]):
        widest = max((len(row[i]) for row in rows), default=1)
        table.add_column(title, justify="right", no_wrap=True, min_width=widest)
    for cells in rows:
        table.add_row(*cells)
    # Narrower than the table's least width, rich would drop whole columns: print it whole.
    least = Measurement.get(console, console.options, table).minimum
    console.print(table, width=max(console.width, least), crop=False)


@app.command()
def process(
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    metrics_port: Annotated[
        int | None, typer.Option("--metrics-port", help="serve Prometheus metrics here")
    ] = None,
) -> None:
    """Store the ingest log's items (INGEST_LOG): run one processor until interrupted."""
    import asyncio
    import signal

    from prometheus_client import start_http_server

    from callquality.service.processor import Processor

    settings = _settings(database_url, data_dir)
    configure_logging(settings.log_level)
    if not settings.ingest_log:
        err_console.print("INGEST_LOG is not set: there is no log to process (docs/scaling.md)")
        raise typer.Exit(2)
    processor = Processor(settings, _engine(settings))
    if metrics_port is not None:
        start_http_server(metrics_port, addr="127.0.0.1", registry=processor.metrics.registry)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, processor.stop)
        await processor.run()

    asyncio.run(main())


@app.command("import")
def import_dump(
    file: Annotated[
        Path, typer.Argument(help="webrtc-internals, RTCStatsDump, rtcstats or jitsi server dump")
    ],
    room_id: Annotated[
        str | None,
        typer.Option("--room-id", help="room to import into (default: import-<file name>)"),
    ] = None,
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="owner (default: the demo key)")
    ] = None,
    again: Annotated[
        bool,
        typer.Option("--again", help="import a dump this key already holds as a second session"),
    ] = False,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Import a dump file as a session, with a progress bar; say what each peer connection gave."""
    from rich import markup
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from callquality.domain.errors import CallQualityError, Conflict
    from callquality.service.imports import import_file

    try:
        stream = file.open("rb")
        size = file.stat().st_size
    except OSError as exc:  # missing, a folder, not readable
        fail(f"cannot read {file}: {exc.strerror}")
    settings = _settings(database_url, data_dir)
    engine = _engine(settings)
    owner = api_key or ensure_demo_key(engine)[0]
    failure = ""
    with stream, Progress(
        "[progress.description]{task.description}", BarColumn(), DownloadColumn(),
        TimeRemainingColumn(), console=err_console,
    ) as progress:
        task = progress.add_task(f"reading {file.name}", total=size)
        try:
            result = import_file(
                engine, settings, owner, stream, name=file.name, room_id=room_id,
                progress=lambda n: progress.update(task, completed=n), refuse_twice=not again,
            )
        except Conflict as exc:  # this key holds the dump already
            failure = f"{exc.message}; nothing imported (pass --again to import it once more)"
        except CallQualityError as exc:
            failure = f"import failed: {exc.message}"
    if failure:  # printed once the progress bar has stopped
        fail(failure)
    if result.session_id is None:
        console.print(f"nothing imported from {file.name} ({result.format})")
    else:
        what = "samples" if result.source == "server" else "reports"
        console.print(
            f"imported {result.reports} {what} of {len(result.peer_connections)} peer "
            f"connections into session {result.session_id} (room {result.room_id}); "
            f"{result.usable_samples} intervals carried media"
        )
    for pc in result.details:
        skipped = "; ".join(f"{n} skipped: {r}" for r, n in pc.skipped.items())
        idle = "; ".join(f"{n} without media: {r}" for r, n in pc.without_media.items())
        entries = "stats entries" if pc.stats == "media server" else "reports"
        line = (
            f"  {pc.peer_connection_id} ({pc.stats} stats): {pc.reports} {entries}, "
            f"{pc.intervals} intervals, {pc.with_media} with media"
        )
        console.print(markup.escape("; ".join(x for x in (line, skipped, idle) if x)))
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {markup.escape(warning)}")


@app.command()
def purge(
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", help="delete every session of this revoked API key instead"),
    ] = None,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Delete samples older than RETENTION_DAYS now (the server also does it hourly), or,
    with --api-key, everything stored of a revoked key's sessions."""
    settings = _settings(database_url, data_dir)
    engine = _engine(settings)
    if api_key is not None:
        _purge_key(engine, api_key)
        return
    from callquality.service.retention import purge_expired

    purged = purge_expired(engine, settings, _now_ms())
    typer.echo(f"purged {purged} samples received more than {settings.retention_days} days ago")


def _purge_key(engine: Any, api_key: str) -> None:
    from callquality.store.keys import key_secret, purge_sessions_of_key

    with read_transaction(engine) as conn:
        row = key_secret(conn, api_key)
    if row is None:
        err_console.print(f"no API key {api_key!r}; see `callquality keys list`")
        raise typer.Exit(1)
    if row[1] is None:
        err_console.print(
            f"API key {api_key} is not revoked: revoke it first (`callquality keys revoke "
            f"{api_key}`), so that nothing is written while its data is deleted"
        )
        raise typer.Exit(1)
    deleted = 0
    while True:  # one transaction per batch: no lock is held for long
        with write_transaction(engine) as conn:
            batch = purge_sessions_of_key(conn, api_key)
        if not batch:
            break
        deleted += batch
    typer.echo(f"deleted {deleted} sessions of API key {api_key} and all their data")


# Webhooks (docs/webhooks.md): the same service functions as /v2/webhooks.
webhooks_app = typer.Typer(help="Webhook endpoints of an API key.", no_args_is_help=True)
app.add_typer(webhooks_app, name="webhooks")
ApiKey = Annotated[str, typer.Option("--api-key", help="the API key that owns the webhooks")]


@webhooks_app.command("create")
def webhooks_create(
    api_key: ApiKey,
    url: Annotated[str, typer.Option("--url", help="http(s) URL that receives the events")],
    event: Annotated[
        list[str] | None, typer.Option("--event", help="a webhook type (repeat; default all)")
    ] = None,
    description: Annotated[str | None, typer.Option(help="a label")] = None,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Register an endpoint and print its id and signing secret (shown once)."""
    from callquality.domain.errors import CallQualityError
    from callquality.service.webhooks import create_endpoint

    settings = _settings(database_url, data_dir)
    try:
        endpoint = create_endpoint(
            _engine(settings), settings, api_key, url=url, types=event,
            description=description, enabled=True, now_ms=_now_ms(),
        )
    except CallQualityError as exc:
        err_console.print(f"[red]not created:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    typer.echo(f"Webhook: {endpoint.endpoint_id}\nSecret:  {endpoint.secret}")


@webhooks_app.command("list")
def webhooks_list(
    api_key: ApiKey, database_url: DatabaseUrl = None, data_dir: DataDir = None
) -> None:
    """List the API key's endpoints."""
    from callquality.service.webhooks import list_endpoints

    for e in list_endpoints(_engine(_settings(database_url, data_dir)), api_key):
        state = "enabled" if e.enabled else "disabled"
        typer.echo(f"{e.endpoint_id}  {state}  {e.url}  {','.join(e.webhook_types)}")


@webhooks_app.command("delete")
def webhooks_delete(
    webhook_id: Annotated[str, typer.Argument(help="the webhook id")], api_key: ApiKey,
    database_url: DatabaseUrl = None, data_dir: DataDir = None,
) -> None:
    """Delete an endpoint, its queue and its delivery log."""
    from callquality.domain.errors import CallQualityError
    from callquality.service.webhooks import delete_endpoint

    try:
        delete_endpoint(_engine(_settings(database_url, data_dir)), api_key, webhook_id)
    except CallQualityError as exc:
        err_console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from exc
    typer.echo(f"deleted {webhook_id}")


@webhooks_app.command("test")
def webhooks_test(
    webhook_id: Annotated[str, typer.Argument(help="the webhook id")], api_key: ApiKey,
    database_url: DatabaseUrl = None, data_dir: DataDir = None,
) -> None:
    """Send a signed test event to the endpoint now and print what it answered."""
    from callquality.domain.errors import CallQualityError
    from callquality.service.webhooks import send_test_event

    settings = _settings(database_url, data_dir)
    try:
        result = send_test_event(_engine(settings), settings, api_key, webhook_id, _now_ms())
    except CallQualityError as exc:
        err_console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from exc
    outcome = result.outcome
    typer.echo(f"{'delivered' if outcome.delivered else 'not delivered'}: "
               f"{outcome.status_code or outcome.error} in {outcome.duration_ms} ms")
    if not outcome.delivered:
        raise typer.Exit(1)


@webhooks_app.command("deliveries")
def webhooks_deliveries(
    webhook_id: Annotated[str, typer.Argument(help="the webhook id")], api_key: ApiKey,
    database_url: DatabaseUrl = None, data_dir: DataDir = None,
) -> None:
    """Print the endpoint's 50 newest deliveries: status, attempts, last error."""
    from callquality.domain.errors import CallQualityError
    from callquality.service.webhooks import deliveries

    try:
        found, total = deliveries(_engine(_settings(database_url, data_dir)), api_key,
                                  webhook_id, status=None, page=1, per_page=50)
    except CallQualityError as exc:
        err_console.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(1) from exc
    table = Table(title=f"{webhook_id}: {total} deliveries")
    for title in ("event", "type", "status", "attempts", "last answer"):
        table.add_column(title)
    for d in found:
        table.add_row(str(d.event_id), d.webhook_type or "", d.status, str(d.attempts),
                      str(d.last_status_code or d.last_error or ""))
    console.print(table)


@app.command("settings")
def show_settings(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="print the table of docs/api.md")
    ] = False,
) -> None:
    """List every setting, its environment variable, type and default."""
    if markdown:
        typer.echo(settings_markdown(), nl=False)
        return
    for setting in SETTINGS:
        console.print(
            f"[bold]{setting.name.upper()}[/bold] = {setting.default!r} "
            f"({setting.type.__name__}): {setting.help}"
        )


if __name__ == "__main__":  # pragma: no cover
    app()
