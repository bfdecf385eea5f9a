"""Results of the ministry calls, reduced to what the gateway records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file stored by the ministry (``POST /api/v1/tep-tin`` answer)."""

    id: str  # "TT-…", to list in the dossier's tepTinIds
    sha256: str
    size: int
    name: str
    content_type: str


@dataclass(frozen=True, slots=True)
class CreatedDossier:
    """A dossier in the ministry's pending-reception queue.

    ``already_existed``: the ministry answered 409 HO_SO_DA_TON_TAI, i.e. an earlier attempt (or
    another sender) delivered it; ``id`` is then the existing dossier's. ``replayed``: the answer is
    the ministry's stored first answer to this idempotency key.
    """

    id: str  # "HS-…"
    ma_ho_so: str | None
    status: str | None
    created_at: datetime | None
    already_existed: bool = False
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class ChangePage:
    """One page of the change feed. Store ``cursor`` only after ``changes`` are recorded."""

    changes: list[dict[str, Any]]
    cursor: str
    more: bool
