"""The last step of a death notice: the funeral-support dossier (1.001731), which then lives as any dossier.

Written in the transaction that finishes the step before it (lookup or stop), with its delivery (or its
identity check) enqueued there too: from then on it is delivered, followed and called back like a dossier
the province posted, under the notice's ``MaHoSoLienThong``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session

from gateway.callbacks.events import callback
from gateway.death_notices import repository
from gateway.dossiers import repository as dossiers
from gateway.dossiers.service import promised_date
from gateway.identity.steps import delivery, verification
from gateway.models import DeathNotice, DeliveryState
from gateway.vocabulary import CallbackEvent
from gateway.workflow import Next
from mappings.canonical import dossier_to_json, fingerprint
from mappings.death_notice import funeral_dossier, notice_from_json
from mappings.model import AttachmentFacts
from mappings.tables import note_text
from outbox.columns import utcnow


@dataclass(frozen=True)
class FuneralOptions:
    """What opening the dossier needs of the settings."""

    verify_identity: bool = False
    notify: bool = False  # province callbacks are configured
    extra_days_off: Collection[date] = field(default_factory=tuple)
    extra_workdays: Collection[date] = field(default_factory=tuple)


def open_funeral_dossier(session: Session, notice: DeathNotice, group_code: str | None,
                         options: FuneralOptions) -> list[Next]:
    """Create the funeral dossier of ``notice`` (once: a replayed step finds it) and return its first step.

    ``group_code``: the deceased's beneficiary group as the ministry records it, else the notice's.
    """
    if notice.dossier_id is not None:
        return []
    parsed = notice_from_json(notice.content)
    group = group_code or parsed.deceased.group_code
    if group is None:
        # Not a beneficiary and no NhomDoiTuong in the notice: the ministry refuses a dossier without one.
        repository.set_step(session, notice, "funeral_dossier", {"state": "failed", "reason": "group_unknown"})
        if not options.notify:
            return []
        return [callback(parsed.code, None, CallbackEvent.SYNC_FAILED, at=utcnow(), ministry_status=None,
                         text=note_text("notice_group_unknown"))]
    dossier = funeral_dossier(parsed, group_code=group)
    facts = {f["file_id"]: AttachmentFacts(f["sha256"], f["size"], f["content_type"]) for f in notice.files}
    row = dossiers.lock_or_create(session, ma_ho_so=dossier.code, procedure_code=dossier.procedure_code,
                                  client_name=notice.client_name)
    if not row.is_new:
        # Intake refuses a notice whose MaHoSoLienThong is a dossier's code; a dossier posted since under that
        # code is the province's own: left alone, the step reports it.
        repository.set_step(session, notice, "funeral_dossier", {"state": "conflict", "MaHoSo": dossier.code})
        return []
    by_id = {d.file_id: d for d in dossier.documents}
    files = [dossiers.NewFile(f["file_id"], by_id[f["file_id"]].file_name, by_id[f["file_id"]].component_code,
                              f["content_type"], f["size"], f["sha256"]) for f in notice.files]
    due_at = dossier.due_at or promised_date(dossier, options.extra_days_off, options.extra_workdays)
    dossiers.add_revision(session, row, number=1, fingerprint=fingerprint(dossier, facts),
                          content=dossier_to_json(dossier), files=files, procedure_code=dossier.procedure_code,
                          due_at=due_at, delivery_state=DeliveryState.QUEUED, client_name=notice.client_name)
    repository.set_step(session, notice, "funeral_dossier", {"state": "created", "MaHoSo": dossier.code},
                        dossier_id=row.id)
    first = verification if options.verify_identity else delivery
    return [first(dossier.code, row.id, 1)]
