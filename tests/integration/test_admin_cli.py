"""The administration commands (``gateway messages …``, ``dossiers show``, ``stats``, ``purge``) on both engines.

Most run in-process through Typer's runner; one runs ``python -m gateway`` as operators do.
"""

from __future__ import annotations

import getpass
import logging
import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import Result
from starlette.testclient import TestClient
from typer.testing import CliRunner

from adapters.province.samples import sample_dossier
from gateway.app import create_app
from gateway.cli import app
from gateway.db import Database
from gateway.settings import Settings, get_settings
from outbox.columns import utcnow
from outbox.models import OutboxAttempt, OutboxMessage
from tests.conftest import API_KEYS, PROVINCE_KEY
from tests.support.admin import audit_entries, count, seed, states
from tests.support.intake import post_json, sample_files
from tests.support.procs import gateway_env, run_gateway

ACTOR = f"os:{getpass.getuser()}"
Run = Callable[..., Result]


def listed_ids(table: str) -> list[int]:
    """The id column of a ``messages list`` table."""
    return [int(line.split("│")[1]) for line in table.splitlines()
            if line.startswith("│") and line.split("│")[1].strip().isdigit()]


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    """``gateway <args>`` in-process, against the test's database."""
    for name in [n for n in os.environ if n.startswith("GATEWAY_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GATEWAY_BLOB_DIR", str(settings.blob_dir))
    monkeypatch.setenv("GATEWAY_LOG_FORMAT", "json")
    monkeypatch.setenv("COLUMNS", "200")  # wide tables: cells are not folded across lines
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(app, list(args))

    yield run
    get_settings.cache_clear()
    root.handlers[:] = handlers  # the commands pointed logging at the runner's (now closed) stderr
    root.setLevel(level)


def test_list_show_replay_and_cancel(cli: Run, db: Database) -> None:
    dead = [seed(db, state="dead", with_attempt=True) for _ in range(3)]
    callback = seed(db, kind="province_callback", key="callback:000.00.12.H56-240115-0001", state="dead")
    old = seed(db, state="dead", created_at=utcnow() - timedelta(days=10))
    pending = seed(db, state="pending")

    listed = cli("messages", "list", "--state", "dead", "--since", "2d")
    assert listed.exit_code == 0, listed.output
    assert listed_ids(listed.stdout) == sorted([*dead, callback], reverse=True)
    only_callbacks = cli("messages", "list", "--kind", "province_callback")
    assert "province_callback" in only_callbacks.stdout and "deliver_dossier" not in only_callbacks.stdout
    paged = cli("messages", "list", "--limit", "2")
    assert "more: add --cursor" in paged.stdout
    assert cli("messages", "list", "--since", "last week").exit_code == 2
    assert cli("messages", "list", "--state", "lost").exit_code == 2

    shown = cli("messages", "show", str(dead[0]))
    assert shown.exit_code == 0, shown.output
    assert "attempts" in shown.stdout and "PermanentMinistryError" in shown.stdout and "422" in shown.stdout
    assert cli("messages", "show", "999999").exit_code == 1

    one = cli("messages", "replay", str(dead[0]))
    assert one.exit_code == 0, one.output
    assert "replayed 1 of 1 message(s)" in one.stdout
    again = cli("messages", "replay", str(dead[0]), str(pending), "424242")
    assert again.exit_code == 1
    assert "replayed 0 of 3 message(s)" in again.stdout
    assert "424242: no such message" in again.stderr and f"{pending}: pending" in again.stderr

    assert cli("messages", "replay").exit_code == 2  # neither ids nor filters
    assert cli("messages", "replay", "--state", "done").exit_code == 2
    assert cli("messages", "replay", str(dead[1]), "--state", "dead").exit_code == 2
    bulk = cli("messages", "replay", "--state", "dead", "--kind", "deliver_dossier", "--since", "2d")
    assert bulk.exit_code == 0, bulk.output
    assert "replayed 2 message(s)" in bulk.stdout
    assert "replaying" in bulk.stderr  # the progress bar
    assert "replayed 0 message(s)" in cli("messages", "replay", "--state", "dead", "--kind", "deliver_dossier",
                                          "--since", "2d").stdout
    assert states(db, [*dead, callback, old]) == {dead[0]: "pending", dead[1]: "pending", dead[2]: "pending",
                                                  callback: "dead", old: "dead"}

    assert cli("messages", "cancel", str(pending)).exit_code == 2  # --reason is required
    cancelled = cli("messages", "cancel", str(pending), "--reason", "nộp trùng")
    assert cancelled.exit_code == 0 and f"cancelled message {pending}" in cancelled.stdout
    assert cli("messages", "cancel", str(pending), "--reason", "again").exit_code == 1

    entries = audit_entries(db)
    assert [(e.actor, e.action) for e in entries] == [(ACTOR, "replay"), (ACTOR, "bulk_replay"), (ACTOR, "cancel")]
    assert entries[0].target["ids"] == [dead[0]]
    assert entries[2].target == {"ids": [pending], "reason": "nộp trùng"}


def test_purge_keeps_dead_messages_and_stats_reports(cli: Run, db: Database) -> None:
    long_ago = utcnow() - timedelta(days=40)
    old_done = [seed(db, state="done", created_at=long_ago, with_attempt=True) for _ in range(3)]
    old_cancelled = seed(db, state="cancelled", created_at=long_ago)
    old_dead = seed(db, state="dead", created_at=long_ago, with_attempt=True)
    recent_done = seed(db, state="done", created_at=utcnow() - timedelta(days=2))
    stuck = seed(db, state="pending", created_at=utcnow() - timedelta(hours=3))

    stats = cli("stats")
    assert stats.exit_code == 0, stats.output
    assert "unknown here" in stats.stdout
    assert "oldest undelivered: 3h 00m" in stats.stdout

    assert "would purge 4 message(s)" in cli("purge", "--dry-run").stdout  # GATEWAY_RETENTION_DAYS: 30
    assert cli("purge", "--older-than", "soon").exit_code == 2
    purged = cli("purge", "--older-than", "30d")
    assert purged.exit_code == 0, purged.output
    assert "purged 4 message(s)" in purged.stdout
    left = states(db, [*old_done, old_cancelled, old_dead, recent_done, stuck])
    assert left == {old_dead: "dead", recent_done: "done", stuck: "pending"}
    assert count(db, OutboxAttempt) == 1  # the dead message's attempt stays with it
    assert "purged 0 message(s)" in cli("purge", "--older-than", "30d").stdout
    [entry] = audit_entries(db)
    assert (entry.actor, entry.action, entry.result) == (ACTOR, "purge", {"deleted": 4})
    assert "purged 1 message(s)" in cli("purge", "--older-than", "1d").stdout
    assert count(db, OutboxMessage) == 2


def test_dossiers_show(cli: Run, settings: Settings, db: Database) -> None:
    dossier = sample_dossier()
    with TestClient(create_app(settings, database=db)) as client:
        assert post_json(client, PROVINCE_KEY, dossier, sample_files(dossier)).status_code == 202
    shown = cli("dossiers", "show", dossier["MaHoSo"])
    assert shown.exit_code == 0, shown.output
    for expected in ("queued", "received", "deliver_dossier", "attachments", "history", "timeline",
                     "Tiếp nhận hồ sơ từ tỉnh"):
        assert expected in shown.stdout
    # Received 2024: its commune code 16171 is read as the pre-2025 Xã Nga Trường, now part of Xã Ba Đình.
    assert "unit codes translated" in shown.stdout and "Xã Nga Trường" in shown.stdout
    # The dossier's content (names, ID numbers, birth dates) is not shown.
    assert dossier["DuLieuToKhai"]["SoDinhDanh"] not in shown.stdout
    assert dossier["DuLieuToKhai"]["HoTen"] not in shown.stdout
    missing = cli("dossiers", "show", "000.00.12.H56-240115-9999")
    assert missing.exit_code == 1


def test_the_console_script_replays_in_bulk(db_url: str, db: Database, tmp_path: Path) -> None:
    dead = [seed(db, state="dead") for _ in range(2)]
    env = gateway_env(db_url, tmp_path / "blobs", API_KEYS, COLUMNS="200")
    listed = run_gateway(["messages", "list", "--state", "dead"], env)
    assert listed.returncode == 0, listed.stderr
    assert listed_ids(listed.stdout) == sorted(dead, reverse=True)
    replayed = run_gateway(["messages", "replay", "--state", "dead"], env)
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 2 message(s)" in replayed.stdout
    assert '"event": "admin_action"' in replayed.stderr  # one structured line for the action
    assert states(db, dead) == {i: "pending" for i in dead}
    assert [e.actor for e in audit_entries(db)] == [ACTOR]
