"""Readers for the package's own data files (``mappings/data/``): the only I/O of the package."""

from __future__ import annotations

import csv
import io
from importlib import resources
from typing import Any

import yaml


def _text(name: str) -> str:
    return resources.files("mappings").joinpath("data", name).read_text(encoding="utf-8")


def read_csv(name: str) -> list[dict[str, str]]:
    """Rows of ``data/<name>`` as dicts, values stripped; lines starting with ``#`` are comments."""
    lines = [line for line in _text(name).splitlines() if not line.lstrip().startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    return [{k.strip(): (v or "").strip() for k, v in row.items()} for row in reader]


def read_yaml(name: str) -> Any:
    """The parsed content of ``data/<name>``."""
    return yaml.safe_load(_text(name))


def as_bool(value: str) -> bool:
    """Parse a CSV boolean (``true``/``false``, also ``1``/``0``, ``yes``/``no``)."""
    lowered = value.strip().lower()
    if lowered in {"true", "1", "yes"}:
        return True
    if lowered in {"false", "0", "no", ""}:
        return False
    raise ValueError(f"not a boolean: {value!r}")
