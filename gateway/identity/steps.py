"""The messages the identity check starts (kept apart from the handler: the intake and admin use them too)."""

from __future__ import annotations

from typing import Any

from gateway.vocabulary import MessageKind
from gateway.workflow import Next


def verification(ma_ho_so: str, dossier_id: str, revision: int) -> Next:
    """The ``verify_identity`` step of a new revision (the first of its delivery when the check is configured)."""
    return Next(MessageKind.VERIFY_IDENTITY, ma_ho_so, {"dossier_id": dossier_id, "revision": revision})


def delivery(ma_ho_so: str, dossier_id: str, revision: int, note: str | None = None) -> Next:
    """The ``deliver_dossier`` step of a revision; ``note``: a ``ghiChu`` sentence the check adds for the officer."""
    payload: dict[str, Any] = {"dossier_id": dossier_id, "revision": revision}
    if note:
        payload["note"] = note
    return Next(MessageKind.DELIVER_DOSSIER, ma_ho_so, payload)
