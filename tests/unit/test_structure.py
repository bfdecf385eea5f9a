"""The shape DESIGN.md promises, checked: one owner of the dossier tables, peers only in adapters/,
intake free of the delivery stack."""

from __future__ import annotations

import ast
import subprocess  # nosec B404 - runs this interpreter on a fixed snippet
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOSSIER_MODELS = {"Dossier", "DossierRevision", "Attachment", "DossierEvent"}
OWNER = ROOT / "gateway" / "dossiers" / "repository.py"
SQL_CALLS = {"select", "update", "insert", "delete", "get", "add", "exec", "pg_insert", "sqlite_insert"}


def _modules(folder: str) -> list[Path]:
    return [p for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts]


def _sql_on_dossier_tables(path: Path, models: frozenset[str] | set[str] = DOSSIER_MODELS) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr == "__table__" and isinstance(node.value, ast.Name) \
                and node.value.id in models:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value.id}.__table__")
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in SQL_CALLS and any(isinstance(a, ast.Name) and a.id in models for a in node.args):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}(…)")
    return found


def test_only_the_repository_builds_sql_on_the_dossier_tables() -> None:
    offenders = [hit for path in _modules("gateway") if path != OWNER for hit in _sql_on_dossier_tables(path)]
    assert offenders == []
    assert _sql_on_dossier_tables(OWNER)  # the check sees SQL where there is some


def test_only_the_database_store_builds_sql_on_the_blob_tables() -> None:
    owner = ROOT / "gateway" / "blobs" / "postgresql.py"
    models = {"Blob", "BlobChunk"}
    offenders = [hit for path in _modules("gateway") if path != owner for hit in _sql_on_dossier_tables(path, models)]
    assert offenders == []
    assert _sql_on_dossier_tables(owner, models)


def test_only_the_alerts_repository_builds_sql_on_alert_state() -> None:
    owner = ROOT / "gateway" / "alerts" / "repository.py"
    models = {"AlertStateRow"}
    offenders = [hit for path in _modules("gateway") if path != owner for hit in _sql_on_dossier_tables(path, models)]
    assert offenders == []
    assert _sql_on_dossier_tables(owner, models)


def test_adapters_import_nothing_of_the_gateway() -> None:
    offenders = []
    for path in _modules("adapters"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names
                          if n == "gateway" or n.startswith("gateway.")]
    assert offenders == []


def test_intake_does_not_load_the_delivery_handlers() -> None:
    snippet = ("import sys, gateway.dossiers.service, gateway.dossiers.endpoints; "
               "print(sorted(m for m in sys.modules if m.startswith(('gateway.delivery', 'adapters.ministry'))))")
    loaded = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True, check=True,  # nosec B603
                            cwd=ROOT).stdout.strip()
    assert loaded == "[]"
