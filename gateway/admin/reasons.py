"""Stored error details → plain Vietnamese for the admin console; the words live in ``reasons.yaml``.

The detail of a failed attempt is what the delivery code stored (``gateway.delivery.errors.ministry_detail``:
``status``, ``maLoi``, ``thongDiep``, ``chiTiet``; the callback handler's ``error``/``status``; the
dispatcher's ``exception``). Nothing here reads a dossier: the texts hold codes and field names only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from gateway.vocabulary import MessageKind

HERE = Path(__file__).parent
_INDEX = re.compile(r"\[\d+\]")


@dataclass(frozen=True)
class Fault:
    """One field the ministry named in ``chiTiet``: its label for officers, its path, the ministry's words."""

    label: str
    path: str
    message: str


@dataclass(frozen=True)
class Explanation:
    """Why a message failed and what to do, for an officer; ``code`` is the technical code, if any."""

    reason: str
    action: str
    faults: list[Fault] = field(default_factory=list)
    code: str | None = None


class _KeepMissing(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


@cache
def _reasons() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((HERE / "reasons.yaml").read_text(encoding="utf-8"))
    return data


@cache
def _labels() -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = yaml.safe_load((HERE / "labels.yaml").read_text(encoding="utf-8"))
    return data


def label(group: str, code: str | None) -> str:
    """The console's name for ``code`` in ``group`` of ``labels.yaml`` (states, kinds…); the code if unknown."""
    if code is None:
        return ""
    return _labels().get(group, {}).get(code, code)


def labels(group: str) -> dict[str, str]:
    """Every name of ``group`` in ``labels.yaml``, in file order."""
    return dict(_labels().get(group, {}))


def field_label(path: str) -> str:
    """The officer's name of a ministry field path (``doiTuong.noiThuongTru.maXa``); the path if unknown."""
    names: dict[str, str] = _reasons().get("fields", {})
    parts = _INDEX.sub("", path).split(".")
    for end in range(len(parts), 0, -1):
        found = names.get(".".join(parts[:end]))
        if found:
            return found
    return path


def _entry(kind: str, detail: Mapping[str, Any]) -> tuple[dict[str, str], str | None]:
    data = _reasons()
    code = detail.get("maLoi")
    status = detail.get("status")
    error = detail.get("error")
    if kind == MessageKind.PROVINCE_CALLBACK:
        if isinstance(error, str) and error in data["callback"]:
            return data["callback"][error], error
        if isinstance(status, int):
            return data["callback"]["http"], f"HTTP {status}"
    if isinstance(code, str) and code in data["codes"]:
        return data["codes"][code], code
    if "exception" in detail:
        return data["internal"], str(detail["exception"])
    if "TepDinhKemId" in detail:
        return data["missing_attachment"], None
    if isinstance(status, int):
        by_status = data["http"].get(str(status)) or data["http"].get(f"{status // 100}xx")
        if by_status:
            return by_status, code if isinstance(code, str) else f"HTTP {status}"
    return data["unknown"], code if isinstance(code, str) else None


def explain(kind: str, detail: Mapping[str, Any] | None, *, attempts: int = 0) -> Explanation:
    """The plain-Vietnamese reason of a failure of a message of ``kind`` from its stored ``detail``."""
    detail = detail or {}
    entry, code = _entry(kind, detail)
    values = _KeepMissing(
        status=detail.get("status") if detail.get("status") is not None else "?",
        attempts=attempts,
        exception=detail.get("exception", ""),
        TepDinhKemId=detail.get("TepDinhKemId", ""),
    )
    faults = []
    for item in detail.get("chiTiet") or []:
        if isinstance(item, Mapping):
            path = str(item.get("truong") or "")
            faults.append(Fault(label=field_label(path), path=path, message=str(item.get("thongDiep") or "")))
    return Explanation(
        reason=str(entry.get("reason", "")).format_map(values),
        action=str(entry.get("action", "")).format_map(values),
        faults=faults,
        code=code,
    )
