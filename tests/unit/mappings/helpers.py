"""Shared helpers of the mappings unit tests: measured attachments and a fixed 'today'."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date
from typing import Any

from adapters.province.samples import sample_pdf_bytes
from mappings.errors import FieldError
from mappings.model import AttachmentFacts, Dossier
from mappings.province import parse_dossier

TODAY = date(2024, 6, 1)


def facts(data: bytes) -> AttachmentFacts:
    """What the gateway would have measured of ``data``."""
    return AttachmentFacts(sha256=hashlib.sha256(data).hexdigest(), size=len(data), content_type="application/pdf")


def files_for(raw: Any) -> dict[str, bytes]:
    """One distinct PDF per file declared in ``raw["TaiLieuNop"]`` (none for a malformed list)."""
    items = raw.get("TaiLieuNop") if isinstance(raw, Mapping) else None
    if not isinstance(items, list):
        return {}
    return {
        str(item["TepDinhKemId"]): sample_pdf_bytes(f"file {item['TepDinhKemId']}")
        for item in items
        if isinstance(item, Mapping) and item.get("TepDinhKemId") is not None
    }


def attachments_for(raw: Any) -> dict[str, AttachmentFacts]:
    """Measured facts of :func:`files_for`."""
    return {file_id: facts(data) for file_id, data in files_for(raw).items()}


def parse(
    raw: Any, attachments: Mapping[str, AttachmentFacts] | None = None
) -> tuple[Dossier | None, list[FieldError]]:
    """``parse_dossier`` at :data:`TODAY`, with the declared files attached unless told otherwise."""
    if attachments is None:
        attachments = attachments_for(raw)
    return parse_dossier(raw, attachments, today=TODAY)


def parse_ok(raw: Any, attachments: Mapping[str, AttachmentFacts] | None = None) -> Dossier:
    """The dossier of a submission that must be valid."""
    dossier, errors = parse(raw, attachments)
    assert errors == []
    assert dossier is not None
    return dossier


def faults(raw: Any, attachments: Mapping[str, AttachmentFacts] | None = None) -> list[tuple[str, str]]:
    """(field, code) of every fault of a submission that must be invalid."""
    dossier, errors = parse(raw, attachments)
    assert dossier is None
    assert errors
    return [(e.field, e.code) for e in errors]
