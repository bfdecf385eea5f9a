"""The dependency direction of DESIGN.md: adapters and mappings never import the gateway."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", ["adapters", "mappings"])
def test_package_imports_nothing_from_the_gateway(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(n for n in _imports(path) if n == "gateway" or n.startswith("gateway."))
        for path in (ROOT / package).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}
