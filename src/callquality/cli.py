"""The ``callquality`` command: serve, keys, token, stats, import, demo."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from callquality.config import (
    SETTINGS,
    SETTINGS_BY_NAME,
    Settings,
    export_to_environment,
    load_settings,
    settings_markdown,
)
from callquality.logs import configure_logging
from callquality.store.db import create_store_engine, migrate, read_transaction, write_transaction

app = typer.Typer(help="callquality: WebRTC call-quality statistics.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
console = Console()
err_console = Console(stderr=True)

DatabaseUrl = Annotated[
    str | None, typer.Option("--database-url", help=SETTINGS_BY_NAME["database_url"].help)
]
DataDir = Annotated[str | None, typer.Option("--data-dir", help=SETTINGS_BY_NAME["data_dir"].help)]


def _settings(database_url: str | None, data_dir: str | None) -> Settings:
    return load_settings(database_url=database_url, data_dir=data_dir)


def _engine(settings: Settings) -> Any:
    engine = create_store_engine(settings.resolved_database_url)
    migrate(engine)
    return engine


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
    engine = _engine(settings)
    if demo:
        from callquality.service.demo import seed_demo_session
        from callquality.tokens import make_token

        api_key, secret = ensure_demo_key(engine)
        session_id = seed_demo_session(engine, settings, api_key)
        tok = make_token(api_key, secret, ttl_s=30 * 24 * 3600)
        base = f"http://{host}:{port}"
        database = settings.resolved_database_url.split("@")[-1]
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
    uvicorn.run(
        "callquality.api.server:app",
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        log_config=None,
        access_log=False,
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

    engine = _engine(_settings(database_url, data_dir))
    with read_transaction(engine) as conn:
        session = session_by_id(conn, session_id)
        if session is None:
            err_console.print(f"no session {session_id!r}")
            raise typer.Exit(1)
        series = time_series(conn, session_id, session.start_ms, interval_s=interval)
    table = Table(title=f"session {session_id} (room {session.room_id})")
    columns: list[tuple[str, Callable[[Bucket], Any], str]] = [
        ("MOS audio", lambda b: b.audio_mos, "score"),
        ("Vq video", lambda b: b.video_vq, "score"),
        ("RTT a ms", lambda b: b.audio_rtt_ms, "ms"),
        ("jitter a ms", lambda b: b.audio_jitter_ms, "ms"),
        ("lost recv a", lambda b: b.recv_audio_lost, "count"),
        ("lost recv v", lambda b: b.recv_video_lost, "count"),
        ("send v kbps", lambda b: b.send_video_bitrate_bps, "bps"),
        ("recv v kbps", lambda b: b.recv_video_bitrate_bps, "bps"),
    ]
    table.add_column("time (UTC)", justify="right", no_wrap=True)
    for title, _, _ in columns:
        table.add_column(title, justify="right")
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
        table.add_row(*cells)
    console.print(table)


@app.command()
def process(
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Store the ingest log's items (INGEST_LOG): run one processor until interrupted."""
    import asyncio
    import signal

    from callquality.service.processor import Processor

    settings = _settings(database_url, data_dir)
    configure_logging(settings.log_level)
    if not settings.ingest_log:
        err_console.print("INGEST_LOG is not set: there is no log to process (docs/scaling.md)")
        raise typer.Exit(2)
    processor = Processor(settings, _engine(settings))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, processor.stop)
        await processor.run()

    asyncio.run(main())


@app.command("import")
def import_dump(
    file: Annotated[Path, typer.Argument(help="webrtc-internals, RTCStatsDump or rtcstats dump")],
    room_id: Annotated[str | None, typer.Option("--room-id", help="room to import into")] = None,
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="owner (default: the demo key)")
    ] = None,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
) -> None:
    """Import a dump file as a session, with a progress bar."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from callquality.domain.errors import CallQualityError
    from callquality.service.imports import import_file

    settings = _settings(database_url, data_dir)
    engine = _engine(settings)
    owner = api_key or ensure_demo_key(engine)[0]
    size = file.stat().st_size
    with Progress(
        "[progress.description]{task.description}", BarColumn(), DownloadColumn(),
        TimeRemainingColumn(), console=err_console,
    ) as progress:
        task = progress.add_task(f"reading {file.name}", total=size)
        try:
            with file.open("rb") as stream:
                result = import_file(
                    engine, settings, owner, stream, name=file.name, room_id=room_id,
                    progress=lambda n: progress.update(task, completed=n),
                )
        except CallQualityError as exc:
            err_console.print(f"[red]import failed:[/red] {exc.message}")
            raise typer.Exit(1) from exc
    console.print(
        f"imported {result.reports} reports of {len(result.peer_connections)} peer connections "
        f"into session {result.session_id} (room {result.room_id})"
    )


@app.command()
def purge(database_url: DatabaseUrl = None, data_dir: DataDir = None) -> None:
    """Delete samples older than RETENTION_DAYS now (the server also does it hourly)."""
    from callquality.service.retention import purge_expired

    settings = _settings(database_url, data_dir)
    purged = purge_expired(_engine(settings), settings, _now_ms())
    typer.echo(f"purged {purged} samples received more than {settings.retention_days} days ago")


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
