"""The canonical JSON form of a validated dossier, and its content fingerprint.

Two submissions are "the same content" (province-api.md §2, idempotency) when their canonical
forms and their attachment bytes are equal, whatever the JSON key order, whitespace, number vs.
string spelling of codes, or encoding (multipart or base64) the province used.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

from mappings.model import (
    Address,
    Applicant,
    AttachmentFacts,
    Beneficiary,
    CodeTranslation,
    Document,
    Dossier,
    PartialDate,
)


def dossier_to_json(dossier: Dossier) -> dict[str, Any]:
    """A JSON-compatible dict of the dossier (datetimes as ISO 8601 with offset)."""
    data = asdict(dossier)
    data["received_at"] = dossier.received_at.isoformat()
    data["due_at"] = dossier.due_at.isoformat() if dossier.due_at else None
    data["documents"] = [asdict(d) for d in dossier.documents]
    data["translations"] = [asdict(t) for t in dossier.translations]
    return data


def dossier_from_json(data: Mapping[str, Any]) -> Dossier:
    """The inverse of :func:`dossier_to_json`."""
    ben = data["beneficiary"]
    return Dossier(
        code=data["code"],
        procedure_code=data["procedure_code"],
        procedure_name=data.get("procedure_name"),
        channel=int(data["channel"]),
        received_at=datetime.fromisoformat(data["received_at"]),
        due_at=datetime.fromisoformat(data["due_at"]) if data.get("due_at") else None,
        processing_unit=data["processing_unit"],
        applicant=Applicant(**data["applicant"]),
        beneficiary=Beneficiary(
            full_name=ben["full_name"],
            birth_date=PartialDate(**ben["birth_date"]),
            gender=int(ben["gender"]),
            personal_id=ben["personal_id"],
            ethnic_code=ben["ethnic_code"],
            residence=Address(**ben["residence"]),
            group_code=ben["group_code"],
            relation_to_applicant=ben.get("relation_to_applicant"),
        ),
        documents=tuple(Document(**d) for d in data["documents"]),
        # Revisions stored before the 2025-reform rules have no record of translations.
        translations=tuple(CodeTranslation(**t) for t in data.get("translations") or ()),
    )


def fingerprint(dossier: Dossier, attachments: Mapping[str, AttachmentFacts]) -> str:
    """SHA-256 hex over the canonical dossier and the SHA-256 of each attachment, by file id.

    ``MaBam`` (declared hash) is left out: once checked it says nothing the bytes do not.
    """
    content = dossier_to_json(dossier)
    # Derived from the codes received (already in the content) and the published table: a record of
    # how, not content; leaving it out keeps fingerprints of revisions stored before it existed.
    content.pop("translations")
    return content_fingerprint("dossier", content, attachments)


def content_fingerprint(kind: str, content: dict[str, Any], attachments: Mapping[str, AttachmentFacts]) -> str:
    """SHA-256 hex over ``content`` (a ``*_to_json`` dict, changed in place) under ``kind``, and the files.

    Each of ``content["documents"]`` loses its ``declared_sha256`` and the list is sorted by file id;
    the files count by the SHA-256 of their bytes, by file id. Keys sorted, no whitespace.
    """
    for doc in content["documents"]:
        doc.pop("declared_sha256", None)
    content["documents"].sort(key=lambda d: d["file_id"])
    files = {file_id: facts.sha256 for file_id, facts in sorted(attachments.items())}
    text = json.dumps({kind: content, "files": files}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
