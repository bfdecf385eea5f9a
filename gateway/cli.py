"""The ``gateway`` command (contracts/gateway-operations.md)."""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import OperationalError

from gateway.db import Database, create_database, make_engine
from gateway.logging import configure_logging
from gateway.migrate import NotMigratedError, current_revision, ensure_migrated, head_revision, upgrade
from gateway.settings import Settings, describe_error, get_settings
from gateway.vocabulary import MESSAGE_STATES
from outbox.models import MessageState

if TYPE_CHECKING:
    from fastapi import FastAPI

    from gateway.admin.filters import MessageFilter
    from gateway.admin.schemas import MessageSummary

app = typer.Typer(help="Social-assistance dossier gateway.", no_args_is_help=True, add_completion=False)
sandbox_app = typer.Typer(help="Run a peer system's simulator.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")
messages_app = typer.Typer(help="The transaction log (outbox messages): list, show, replay, cancel.",
                           no_args_is_help=True)
app.add_typer(messages_app, name="messages")
dossiers_app = typer.Typer(help="Dossiers as the gateway holds them.", no_args_is_help=True)
app.add_typer(dossiers_app, name="dossiers")
identity_app = typer.Typer(help="The identity check against the population database: disagreements, releases.",
                           no_args_is_help=True)
app.add_typer(identity_app, name="identity")
payments_app = typer.Typer(help="Recoveries (truy thu) and back-payments (truy lĩnh) for the payment lists.",
                           no_args_is_help=True)
app.add_typer(payments_app, name="payments")

err = Console(stderr=True)
out = Console()


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        err.print(f"[red]invalid configuration:[/red] {escape(describe_error(exc))}", highlight=False)
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
    workers: int = typer.Option(1, min=1, max=64, help="Server processes sharing the port (each with its own "
                                "embedded delivery worker when that is on)."),
) -> None:
    """Serve the HTTP API (intake, health, metrics)."""
    import uvicorn

    from gateway.app import create_app

    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)
    _require_migrated(settings)
    # h11 (not httptools) so the request head is bounded while it is read; heads between
    # GATEWAY_MAX_HEADER_BYTES and twice that get the app's 431 problem, larger ones h11's own refusal.
    options: dict[str, Any] = {
        "host": host, "port": port, "log_config": None, "access_log": False, "timeout_graceful_shutdown": 10,
        "http": "h11", "h11_max_incomplete_event_size": 2 * settings.max_header_bytes,
    }
    if workers == 1:
        uvicorn.run(create_app(settings), **options)
    else:
        # Worker processes are spawned afresh: they import the app by name and build it from the environment.
        uvicorn.run("gateway.cli:served_app", factory=True, workers=workers, **options)


def served_app() -> FastAPI:
    """The app of one ``serve --workers N`` process: settings and logging from the environment, as the parent's."""
    from gateway.app import create_app

    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)
    return create_app(settings)


@app.command()
def worker(
    concurrency: int = typer.Option(0, help="Messages handled at once (default GATEWAY_WORKER_CONCURRENCY)."),
) -> None:
    """Run the delivery dispatcher alone; any number may share one PostgreSQL."""
    import asyncio

    from gateway.blobs import create_blob_store
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
    blobs = create_blob_store(settings, db)
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
    from adapters.ministry.sandbox.server import serve as serve_ministry

    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)
    serve_ministry(host, port)


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


@sandbox_app.command("population")
def sandbox_population(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8003, help="Port to listen on."),
) -> None:
    """Run the population sandbox: identity verification (POPULATION_SANDBOX_* configure it; people seeded
    at /_sandbox/people, faults at /_sandbox/faults)."""
    from adapters.population.sandbox.config import PopulationSandboxConfig
    from adapters.population.sandbox.server import serve as serve_population

    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)
    serve_population(host, port, PopulationSandboxConfig.from_env())


@sandbox_app.command("alerts")
def sandbox_alerts(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8004, help="Port to listen on."),
) -> None:
    """Run the alert receiver: POST /alerts (checked against GATEWAY_ALERT_WEBHOOK_SECRET when set), what it
    got at /_sandbox/alerts, the next answers failing on demand at /_sandbox/faults."""
    import uvicorn

    from adapters.alerting.sandbox import create_app as create_receiver

    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)
    secret = settings.alert_webhook_secrets[0] if settings.alert_webhook_secrets else None
    uvicorn.run(create_receiver(secret), host=host, port=port, log_config=None, access_log=False)


# ---- administration: the database directly, audited as the OS user ------------------------------------


def _actor() -> str:
    """``os:<user>``: who runs the command, as the audit log names them."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        user = f"uid-{os.getuid()}"
    return f"os:{user}"


@contextmanager
def _database() -> Iterator[Database]:
    """The gateway's database (migrated), for one command; a clear message when it cannot be reached."""
    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)
    try:
        _require_migrated(settings)
        db = create_database(settings.database_url)
        try:
            yield db
        finally:
            db.dispose()
    except OperationalError as exc:
        # The driver's first line says which host failed; the URL (and its password) is never printed.
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else exc.__class__.__name__
        err.print(Text(f"database unavailable: {reason}", style="red"))
        raise typer.Exit(4) from exc


_OPTIONS = {"state": "--state", "kind": "--kind", "ma_ho_so": "--ma-ho-so", "since": "--since",
            "until": "--until", "error": "--error"}
_FILTER_FAULTS = {"invalid_state": f"one of {', '.join(MESSAGE_STATES)}",
                  "invalid_time": "not a date, time or duration (expected e.g. 2026-01-31, 2026-01-31T08:00+07:00, "
                                  "2h or 7d)"}


def _filter(state: str | None, kind: str | None, since: str | None, until: str | None, ma_ho_so: str | None,
            error: str | None) -> MessageFilter:
    """:meth:`MessageFilter.parse` (dates and times without an offset in this machine's zone), a bad value a
    bad option (exit 2)."""
    from gateway.admin.filters import FilterError, MessageFilter
    from gateway.admin.timespec import local_zone

    try:
        return MessageFilter.parse(state=state, kind=kind, ma_ho_so=ma_ho_so, since=since, until=until,
                                   error=error, naive=local_zone())
    except FilterError as exc:
        raise typer.BadParameter("; ".join(f"{_OPTIONS[e.field]}: {_FILTER_FAULTS.get(e.code, e.message)}"
                                           for e in exc.errors)) from exc


def _when(value: str | datetime | None) -> str:
    """An ISO timestamp (or a datetime) in the local time of this machine, to the second."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _age(seconds: float | None) -> str:
    from gateway.admin.timespec import format_duration

    return format_duration(seconds, style="short", missing="none")


_STATE_STYLE: dict[str, str] = {
    MessageState.DEAD: "bold red", MessageState.PENDING: "yellow", MessageState.IN_FLIGHT: "cyan",
    MessageState.DONE: "green", MessageState.CANCELLED: "dim",
}
_OUTCOME_STYLE = {"done": "green", "retry": "yellow", "dead": "bold red"}


def _state(value: str) -> Text:
    return Text(value, style=_STATE_STYLE.get(value, ""))


def _cell(value: Any) -> Text:
    """A table cell, never read as rich markup (error texts contain brackets)."""
    if value is None:
        return Text("")
    if isinstance(value, dict | list):
        return Text(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    return Text(str(value))


def _messages_table(items: list[MessageSummary], title: str | None = None) -> Table:
    table = Table(title=title, show_lines=False)
    for name, justify in (("id", "right"), ("kind", "left"), ("key (MaHoSo)", "left"), ("state", "left"),
                          ("tries", "right"), ("created", "left"), ("next / finished", "left"),
                          ("last error", "left")):
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for m in items:
        table.add_row(_cell(m.id), _cell(m.kind), _cell(m.key), _state(m.state), _cell(m.attempts),
                      _cell(_when(m.createdAt)), _cell(_when(m.nextAttemptAt or m.finishedAt)),
                      _cell((m.lastError or "")[:120]))
    return table


@messages_app.command("list")
def messages_list(
    state: str | None = typer.Option(None, help=f"{', '.join(MESSAGE_STATES)}."),
    kind: str | None = typer.Option(None, help="deliver_dossier, supplement_dossier or province_callback."),
    since: str | None = typer.Option(None, help="Created at or after: 2026-01-31, 2026-01-31T08:00 (local time "
                                                "unless an offset is given), or a duration ago: 30m, 2h, 7d."),
    until: str | None = typer.Option(None, help="Created before (same forms as --since)."),
    ma_ho_so: str | None = typer.Option(None, "--ma-ho-so", help="A dossier's code: its deliveries and callbacks."),
    error: str | None = typer.Option(None, help="Text in the last error (case-insensitive)."),
    limit: int = typer.Option(50, min=1, max=500, help="Rows per page."),
    cursor: str | None = typer.Option(None, help="Page on from a previous list (printed under the table)."),
) -> None:
    """The transaction log as a table, newest first."""
    from gateway.admin import service

    filt = _filter(state, kind, since, until, ma_ho_so, error)
    with _database() as db:
        try:
            page = service.list_messages(db, filt, limit=limit, cursor=cursor)
        except ValueError as exc:
            raise typer.BadParameter("not a cursor printed by this command", param_hint="--cursor") from exc
    if not page.items:
        out.print("no messages match")
        return
    out.print(_messages_table(page.items))
    if page.next:
        out.print(Text(f"more: add --cursor {page.next}", style="dim"))


@messages_app.command("show")
def messages_show(message_id: int = typer.Argument(..., help="The message's id.")) -> None:
    """One message, its payload and every attempt."""
    from gateway.admin import service

    with _database() as db:
        found = service.get_message(db, message_id)
    if found is None:
        err.print(f"no message {message_id}")
        raise typer.Exit(1)
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column(overflow="fold")
    for label, value in (
        ("id", found.id), ("kind", found.kind), ("key", found.key), ("state", None),
        ("attempts", found.attempts), ("created", _when(found.createdAt)),
        ("updated", _when(found.updatedAt)), ("next attempt", _when(found.nextAttemptAt)),
        ("finished", _when(found.finishedAt)), ("lease owner", found.leaseOwner),
        ("last error", found.lastError), ("error detail", found.lastErrorDetail),
        ("payload", found.payload),
    ):
        head.add_row(label, _state(found.state) if label == "state" else _cell(value))
    out.print(head)
    attempts = Table(title="attempts")
    for name in ("#", "started", "ms", "outcome", "HTTP", "error class", "error", "worker"):
        attempts.add_column(name, overflow="fold")
    for a in found.attemptsLog:
        attempts.add_row(_cell(a.attempt), _cell(_when(a.startedAt)), _cell(a.durationMs),
                         Text(a.outcome, style=_OUTCOME_STYLE.get(a.outcome, "")),
                         _cell(a.httpStatus), _cell(a.errorClass), _cell(a.error), _cell(a.worker))
    out.print(attempts if found.attemptsLog else Text("no attempt yet", style="dim"))


@messages_app.command("replay")
def messages_replay(
    message_ids: list[int] = typer.Argument(None, help="Ids of dead or cancelled messages to replay."),
    state: str | None = typer.Option(None, help="Bulk: dead (default) or cancelled."),
    kind: str | None = typer.Option(None, help="Bulk: only this kind."),
    since: str | None = typer.Option(None, help="Bulk: created at or after (ISO, local time, or 2h / 7d)."),
    until: str | None = typer.Option(None, help="Bulk: created before."),
    ma_ho_so: str | None = typer.Option(None, "--ma-ho-so", help="Bulk: one dossier's messages."),
    error: str | None = typer.Option(None, help="Bulk: text in the last error."),
) -> None:
    """Replay messages by id, or in bulk by filter (``--state dead`` alone: every dead message).

    Prints how many were replayed; exits 1 when a given id could not be (unknown, or not dead/cancelled).
    """
    from gateway.admin import service

    filt = _filter(state, kind, since, until, ma_ho_so, error)
    if message_ids and not filt.is_empty():
        raise typer.BadParameter("give message ids or filters, not both")
    if not message_ids and filt.is_empty():
        raise typer.BadParameter("give message ids, or --state dead (narrowed by --kind, --since, …) to replay "
                                 "in bulk")
    if filt.state is not None and filt.state not in service.REPLAYABLE:
        raise typer.BadParameter("only dead or cancelled messages can be replayed", param_hint="--state")
    actor = _actor()
    with _database() as db:
        if message_ids:
            wanted = sorted(set(message_ids))
            before = {message_id: service.message_state(db, message_id) for message_id in wanted}
            count = service.replay(db, wanted, actor)
            out.print(f"replayed {count} of {len(wanted)} message(s)")
            if count < len(wanted):
                for message_id, current in before.items():
                    if current is None:
                        err.print(f"  {message_id}: no such message")
                    elif current not in service.REPLAYABLE:
                        err.print(f"  {message_id}: {current} (only dead or cancelled messages are replayed)")
                raise typer.Exit(1)
            return
        with Progress(TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err) as progress:
            task = progress.add_task("replay", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            count = service.bulk_replay(db, filt, actor, progress=advance)
    out.print(f"replayed {count} message(s)")


@messages_app.command("cancel")
def messages_cancel(
    message_id: int = typer.Argument(..., help="The message's id."),
    reason: str = typer.Option(..., "--reason", help="Why (kept with the message and in the audit log)."),
) -> None:
    """Withdraw a pending or dead message (a replay brings it back)."""
    from gateway.admin import service

    if not reason.strip():
        raise typer.BadParameter("a reason is required", param_hint="--reason")
    with _database() as db:
        if service.cancel(db, message_id, _actor(), reason.strip()):
            out.print(f"cancelled message {message_id}")
            return
        current = service.message_state(db, message_id)
    err.print(f"no message {message_id}" if current is None
              else f"message {message_id} is {current}: only pending or dead messages can be cancelled")
    raise typer.Exit(1)


@dossiers_app.command("show")
def dossiers_show(ma_ho_so: str = typer.Argument(..., metavar="MAHOSO", help="The dossier's code.")) -> None:
    """A dossier's delivery state, ministry status, files (no content), history, messages and its timeline."""
    from gateway.admin import service
    from gateway.admin.journey import journey as dossier_journey
    from gateway.dossiers.service import get_dossier
    from gateway.problems import Problem

    with _database() as db:
        try:
            found = get_dossier(db, ma_ho_so)
        except Problem as exc:
            err.print(Text(exc.detail or f"no dossier {ma_ho_so}"))
            raise typer.Exit(1) from exc
        messages = service.list_messages(db, service.MessageFilter(key=ma_ho_so), limit=100).items
        journey = dossier_journey(db, ma_ho_so)
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column(overflow="fold")
    ministry, decision = found.ministry, found.decision
    for label, value in (
        ("MaHoSo", found.ma_ho_so), ("id", found.id), ("revision", found.revision),
        ("delivery", found.state), ("ministry id", ministry.id), ("ministry status", ministry.status),
        ("national status", ministry.national_status), ("due", _when(found.due_at)),
        ("overdue", "yes" if found.overdue else "no"),
        ("decision", decision.model_dump(by_alias=True) if decision else None),
        ("conflict", found.conflict.model_dump(by_alias=True) if found.conflict else None),
        ("created", _when(found.created_at)), ("updated", _when(found.updated_at)),
    ):
        head.add_row(label, _cell(value))
    out.print(head)
    files = Table(title="attachments (latest revision)")
    for name in ("TepDinhKemId", "component", "type", "bytes", "sha256"):
        files.add_column(name, overflow="fold")
    for a in found.attachments:
        files.add_row(_cell(a.TepDinhKemId), _cell(a.MaThanhPhanHoSo), _cell(a.content_type),
                      _cell(a.size), _cell(a.sha256[:16] + "…"))
    out.print(files)
    translations = found.content.get("translations") or []
    if translations:  # a dossier received before 1 July 2025: its pre-2025 unit codes, as translated
        units = Table(title="unit codes translated (received before 1 July 2025)")
        for name in ("field", "received", "was", "sent", "now", "rule"):
            units.add_column(name, overflow="fold")
        for t in translations:
            units.add_row(_cell(t.get("field")), _cell(t.get("received")), _cell(t.get("received_name")),
                          _cell(t.get("code")), _cell(t.get("name")), _cell(t.get("rule")))
        out.print(units)
    history = Table(title="history")
    for name in ("at", "event", "rev", "detail"):
        history.add_column(name, overflow="fold")
    for h in found.history:
        history.add_row(_cell(_when(h.at)), _cell(h.event), _cell(h.revision), _cell(h.detail or h.note))
    out.print(history)
    out.print(_messages_table(messages, title="messages") if messages else Text("no messages", style="dim"))
    if journey is not None:
        timeline = Table(title="timeline (everything, oldest first)")
        for name in ("at", "from", "what", "rev", "state", "code", "why"):
            timeline.add_column(name, overflow="fold")
        for e in journey.timeline:
            timeline.add_row(_cell(_when(e.at)), _cell(e.source), _cell(e.title), _cell(e.revision), _cell(e.state),
                             _cell(e.code), _cell(e.reason))
        out.print(timeline)


@identity_app.command("mismatches")
def identity_mismatches(
    since: str | None = typer.Option(None, help="checked at or after: a date, a date-time or a duration ago (7d)"),
    ma_xa: str | None = typer.Option(None, "--ma-xa", help="the commune (code in force)"),
    held: bool = typer.Option(False, "--held", help="only the dossiers held now"),
    as_csv: bool = typer.Option(False, "--csv", help="CSV on standard output, for the communes' spreadsheets"),
    limit: int = typer.Option(1000, min=1, max=100000),
) -> None:
    """The dossiers the population database disagreed with: which fields, never their values."""
    from gateway.identity import service
    from gateway.identity.endpoints import mismatches_csv, parse_report_filter
    from gateway.problems import Problem

    try:
        moment, commune = parse_report_filter(since, ma_xa)
    except Problem as exc:
        raise typer.BadParameter("; ".join(f"--{e.field.replace('maXa', 'ma-xa')}: {e.message}"
                                           for e in exc.errors)) from exc
    with _database() as db:
        page = service.mismatches(db, since=moment, commune=commune, held_only=held, limit=limit)  # type: ignore[arg-type]
    if as_csv:
        sys.stdout.write(mismatches_csv(page))
        return
    table = Table(title=f"identity disagreements ({page.count})")
    for name in ("MaHoSo", "rev", "maXa", "outcome", "fields", "action", "checked", "request id"):
        table.add_column(name, overflow="fold")
    for m in page.items:
        table.add_row(_cell(m.MaHoSo), _cell(m.revision), _cell(m.maXa), _cell(m.outcome), _cell(", ".join(m.fields)),
                      _cell(m.action), _cell(_when(m.checkedAt)), _cell(m.requestId))
    out.print(table if page.items else Text("no disagreement", style="dim"))


@identity_app.command("release")
def identity_release(
    ma_ho_so: str = typer.Argument(..., metavar="MAHOSO", help="The held dossier's code."),
    reason: str = typer.Option(..., "--reason", help="why it goes to the ministry unverified (audited, in ghiChu)"),
) -> None:
    """Deliver a held dossier anyway (audited as the OS user)."""
    from gateway.identity import service
    from gateway.problems import Problem

    with _database() as db:
        try:
            released = service.release(db, ma_ho_so, actor=_actor(), reason=reason)
        except Problem as exc:
            err.print(Text(exc.detail or exc.code, style="red"))
            raise typer.Exit(1) from exc
    out.print(f"released {released.MaHoSo} revision {released.revision}: queued for delivery")


@payments_app.command("list")
def payments_list(
    month: str | None = typer.Option(None, help="the payment list's month, YYYY-MM"),
    kind: str | None = typer.Option(None, help="truy_thu or truy_linh"),
    ma_xa: str | None = typer.Option(None, "--ma-xa", help="the commune (code in force)"),
    as_csv: bool = typer.Option(False, "--csv", help="CSV on standard output, one line per adjustment"),
    limit: int = typer.Option(10000, min=1, max=100000),
) -> None:
    """The adjustments of a month's payment list: each line, and the totals per commune and kind."""
    from gateway.payments import service
    from gateway.payments.endpoints import parse_filter
    from gateway.payments.repository import AdjustmentKind
    from gateway.problems import Problem

    if kind is not None and kind not in {k.value for k in AdjustmentKind}:
        raise typer.BadParameter("--kind: truy_thu or truy_linh")
    try:
        month, commune = parse_filter(month, ma_xa)
    except Problem as exc:
        raise typer.BadParameter("; ".join(f"--{e.field.replace('maXa', 'ma-xa')}: {e.message}"
                                           for e in exc.errors)) from exc
    with _database() as db:
        page = service.adjustments(db, month=month, kind=kind, commune=commune, limit=limit)
    if as_csv:
        sys.stdout.write(service.adjustments_csv(page))
        return
    lines = Table(title=f"payment adjustments ({page.count})")
    for name in ("kind", "MaHoSo", "maXa", "months", "amount (VND)", "list"):
        lines.add_column(name, overflow="fold", justify="right" if name == "amount (VND)" else "left")
    for a in page.items:
        span = f"{a.firstMonth}..{a.lastMonth} ({len(a.months)})"
        lines.add_row(_cell(a.kind), _cell(a.MaHoSo), _cell(a.maXa), _cell(span), _cell(f"{a.amount:,}"),
                      _cell(a.listMonth))
    totals = Table(title="totals per commune")
    for name in ("maXa", "kind", "count", "amount (VND)"):
        totals.add_column(name, justify="right" if name in ("count", "amount (VND)") else "left")
    for t in page.byCommune:
        totals.add_row(_cell(t.maXa), _cell(t.kind), _cell(t.count), _cell(f"{t.amount:,}"))
    totals.add_row(Text("all", style="bold"), Text(""), _cell(len(page.items)), _cell(f"{page.total:,}"))
    if not page.items:
        out.print(Text("no adjustment", style="dim"))
        return
    out.print(lines)
    out.print(totals)


@app.command()
def stats() -> None:
    """Counts by state and kind, the oldest undelivered message's age, deliveries per minute."""
    from gateway.admin import service

    with _database() as db:
        found = service.stats(db)
    by_state = Table(title="messages by state")
    by_state.add_column("state")
    by_state.add_column("count", justify="right")
    for name in MESSAGE_STATES:
        by_state.add_row(_state(name), _cell(found.byState.get(name, 0)))
    out.print(by_state)
    if found.byKind:
        by_kind = Table(title="by kind")
        by_kind.add_column("kind")
        for name in MESSAGE_STATES:
            by_kind.add_column(name, justify="right")
        by_kind.add_column("oldest undelivered", justify="right")
        for kind, counts in sorted(found.byKind.items()):
            by_kind.add_row(_cell(kind), *(_cell(counts.get(name, 0)) for name in MESSAGE_STATES),
                            _cell(_age(found.oldestUndeliveredAgeSByKind.get(kind))))
        out.print(by_kind)
    out.print(f"oldest undelivered: {_age(found.oldestUndeliveredAgeS)}")
    out.print(f"delivered per minute (last 10 min): {found.deliveredPerMinute}")
    out.print("ministry circuit: unknown here (the CLI runs no dispatcher; the server reports it on "
              "/health/ready and /api/v1/admin/stats)")


@app.command()
def purge(
    older_than: str | None = typer.Option(None, help="Age of finished messages to delete, e.g. 30d, 12h "
                                                     "(default: GATEWAY_RETENTION_DAYS)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count what would be deleted."),
) -> None:
    """Delete delivered (and cancelled) messages and their attempts finished longer ago than --older-than.

    Dead messages are never purged: they wait for a replay or a cancel.
    """
    from gateway.admin import service
    from gateway.admin.timespec import parse_duration
    from gateway.blobs import create_blob_store

    settings = _settings()
    if older_than is None:
        if settings.retention_days == 0:
            raise typer.BadParameter("GATEWAY_RETENTION_DAYS=0 means never purge; give an age to purge anyway",
                                     param_hint="--older-than")
        age = timedelta(days=settings.retention_days)
    else:
        try:
            age = parse_duration(older_than)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--older-than") from exc
    with _database() as db:
        if dry_run:
            out.print(f"would purge {service.purgeable_count(db, age)} message(s) finished more than "
                      f"{_age(age.total_seconds())} ago (dead messages are kept)")
            return
        count = service.purge(db, age, _actor())
        collected = service.collect_blobs(db, create_blob_store(settings, db), _actor())
    out.print(f"purged {count} message(s) finished more than {_age(age.total_seconds())} ago "
              "(dead messages are kept)")
    out.print(f"deleted {collected} attachment file(s) no dossier or death notice refers to")


def main() -> None:
    """Entry point for ``python -m gateway``."""
    app(args=sys.argv[1:])
