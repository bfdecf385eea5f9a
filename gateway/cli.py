"""The ``gateway`` command (contracts/gateway-operations.md)."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from gateway.db import make_engine
from gateway.logging import configure_logging
from gateway.migrate import NotMigratedError, current_revision, ensure_migrated, head_revision, upgrade
from gateway.settings import Settings, get_settings

app = typer.Typer(help="Social-assistance dossier gateway.", no_args_is_help=True, add_completion=False)
sandbox_app = typer.Typer(help="Run a peer system's simulator.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")

err = Console(stderr=True)


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        err.print(f"[red]invalid configuration:[/red] {exc}")
        raise typer.Exit(2) from exc


def _require_migrated(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    try:
        ensure_migrated(engine)
    except NotMigratedError as exc:
        err.print(f"[red]refusing to start:[/red] {exc}")
        raise typer.Exit(3) from exc
    finally:
        engine.dispose()


@app.command()
def migrate() -> None:
    """Apply database migrations (Alembic) up to the newest this code ships."""
    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)
    engine = make_engine(settings.database_url)
    try:
        before = current_revision(engine)
    finally:
        engine.dispose()
    upgrade(settings.database_url)
    head = head_revision()
    if before == head:
        typer.echo(f"database already at migration {head}")
    else:
        typer.echo(f"database migrated from {before or 'empty'} to {head}")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
) -> None:
    """Serve the HTTP API (intake, health, metrics)."""
    import uvicorn

    from gateway.app import create_app

    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)
    _require_migrated(settings)
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None, access_log=False,
                timeout_graceful_shutdown=10)


@app.command()
def worker(
    concurrency: int = typer.Option(0, help="Messages handled at once (default GATEWAY_WORKER_CONCURRENCY)."),
) -> None:
    """Run the delivery dispatcher alone; any number may share one PostgreSQL."""
    import asyncio

    from gateway.blobs import BlobStore
    from gateway.db import create_database
    from gateway.delivery.worker import run_standalone

    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)
    _require_migrated(settings)
    if not settings.delivery_configured:
        err.print("[red]refusing to start:[/red] GATEWAY_MINISTRY_CLIENT_ID and GATEWAY_MINISTRY_CLIENT_SECRET "
                  "must be set for the worker to deliver anything")
        raise typer.Exit(2)
    db = create_database(settings.database_url)
    blobs = BlobStore(settings.blob_dir)
    try:
        asyncio.run(run_standalone(settings, db, blobs, concurrency or None))
    finally:
        db.dispose()


@sandbox_app.command("ministry")
def sandbox_ministry(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8001, help="Port to listen on."),
) -> None:
    """Run the ministry sandbox: the social-assistance software's API, faults injectable at run time."""
    import uvicorn

    from adapters.ministry.sandbox.app import create_app as create_sandbox

    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)
    uvicorn.run(create_sandbox(), host=host, port=port, log_config=None, access_log=False)


@sandbox_app.command("province")
def sandbox_province(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8002, help="Port to listen on."),
) -> None:
    """Run the province sandbox: posts sample dossiers, receives and verifies callbacks."""
    from adapters.province.sandbox.server import serve as serve_province

    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)
    serve_province(host, port)


def main() -> None:
    """Entry point for ``python -m gateway``."""
    app(args=sys.argv[1:])
