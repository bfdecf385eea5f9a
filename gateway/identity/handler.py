"""``verify_identity``: a new revision's beneficiary against the population database, once, before delivery.

The step's outcome decides the next step in the transaction that finishes it (gateway/README.md):
verified → ``deliver_dossier``; disagreeing → held with a ``SAI_LECH_DAN_CU`` callback (policy
``block``) or ``deliver_dossier`` with the disagreement in ``ghiChu`` (``warn``); the service down for
longer than ``GATEWAY_IDENTITY_MAX_WAIT_S``, or refusing the request → ``deliver_dossier`` marked
unverified. A delivery retry never comes back here: the check is its own step, run once per revision.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Literal, Protocol

import structlog
from sqlmodel import Session

from adapters.population.errors import PopulationError
from adapters.population.models import IdentityQuery, Verification
from gateway.callbacks.events import callback
from gateway.db import Database
from gateway.delivery.errors import translate
from gateway.dossiers import repository as dossiers
from gateway.dossiers.repository import DeliveryJob, NewEvent
from gateway.identity import repository
from gateway.identity.repository import NewCheck
from gateway.identity.steps import delivery
from gateway.metrics import IDENTITY_CHECKS
from gateway.models import RevisionState
from gateway.vocabulary import CallbackEvent, DossierEventKind, IdentityAction, IdentityOutcome, MessageKind, Peer
from gateway.workflow import Next, Outcome, finish_step
from mappings.canonical import dossier_from_json
from mappings.identity import Judgement, disagreement_text, judge
from mappings.model import Dossier
from mappings.tables import note_text, procedure
from outbox import DeliveryError, Finish, Message, RetryPolicy
from outbox.columns import utcnow

log = structlog.get_logger(__name__)

Policy = Literal["block", "warn"]


class IdentityVerifier(Protocol):
    """What the step needs of the population client (``adapters.population.client.PopulationClient``)."""

    async def verify(self, query: IdentityQuery) -> Verification:
        """The service's answer for ``query``; raises ``PopulationError``."""
        ...


class VerifyIdentityHandler:
    """The ``verify_identity`` step (target: the population service, its own circuit breaker).

    Its messages retry by their own policy: as long as ``max_wait_s`` (plus the last backoff), whatever
    the dispatcher's attempt limit, because past the wait the step ends by delivering unverified.
    """

    kind: str = MessageKind.VERIFY_IDENTITY
    target: str = Peer.POPULATION

    def __init__(self, db: Database, client: IdentityVerifier, *, policy: Policy, max_wait_s: float,
                 retry: RetryPolicy, notify: bool = False) -> None:
        self.db = db
        self.client = client
        self.mode = policy
        self.max_wait_s = max_wait_s
        self.notify = notify
        self.policy = RetryPolicy(base_s=retry.base_s, cap_s=retry.cap_s, max_attempts=10**9,
                                  max_age_s=max_wait_s + 2 * retry.cap_s + 60)

    def _load(self, payload: dict[str, Any]) -> DeliveryJob | None:
        with self.db.session() as session:
            return dossiers.delivery_job(session, payload["dossier_id"], payload["revision"])

    async def handle(self, message: Message) -> Finish | None:
        """Ask the service once; decide what follows from its answer (or from its silence past the wait)."""
        job = await asyncio.to_thread(self._load, message.payload)
        if job is None or job.revision_state != RevisionState.PENDING or job.delivered_revision is not None:
            return None  # gone, superseded by a newer revision (checked on its own), or delivered already
        dossier = dossier_from_json(job.content)
        try:
            query = IdentityQuery.from_beneficiary(dossier.beneficiary)
        except ValueError as exc:
            return self._unverified(job, dossier, f"invalid query: {exc}")
        try:
            answer = await self.client.verify(query)
        except PopulationError as exc:
            waited = (utcnow() - message.age_from).total_seconds()
            if exc.transient and waited < self.max_wait_s:
                raise translate(exc) from exc
            reason = str(exc) if not exc.transient else f"no answer for {int(waited)} s: {exc}"
            return self._unverified(job, dossier, reason)
        found = procedure(dossier.procedure_code)
        return self._decide(job, dossier, answer, judge(answer.result.value, answer.mismatched_fields,
                                                        answer.deceased, procedure_kind=found.kind if found else ""))

    def _decide(self, job: DeliveryJob, dossier: Dossier, answer: Verification, judgement: Judgement) -> Finish:
        held = judgement.disagrees and self.mode == "block"
        if not judgement.disagrees:
            action, kind, note = IdentityAction.DELIVERED, DossierEventKind.IDENTITY_VERIFIED, judgement.note
        elif held:
            action, kind, note = IdentityAction.HELD, DossierEventKind.IDENTITY_HELD, None
        else:
            action, kind, note = IdentityAction.WARNED, DossierEventKind.IDENTITY_MISMATCH, disagreement_text(judgement)
        check = NewCheck(job.dossier_id, job.ma_ho_so, job.revision_id, job.revision, judgement.outcome, action,
                         dossier.beneficiary.residence.commune_code, judgement.fields, judgement.deceased,
                         answer.request_id)

        def finish(session: Session) -> None:
            now = utcnow()
            repository.record(session, check, now)
            outcome = Outcome(events=[NewEvent(job.dossier_id, kind, now, job.revision, _event_detail(check))])
            if held:
                dossiers.mark_held(session, job.dossier_id)
            else:
                outcome.then.append(delivery(job.ma_ho_so, job.dossier_id, job.revision, note))
            if judgement.disagrees and self.notify:
                outcome.then.append(self._mismatch_callback(job.ma_ho_so, judgement, held, now))
            finish_step(session, outcome)
            IDENTITY_CHECKS.labels(judgement.outcome.value).inc()
            log.info("identity_checked", ma_ho_so=job.ma_ho_so, revision=job.revision, outcome=judgement.outcome.value,
                     action=action.value, fields=list(judgement.fields), request_id=answer.request_id)

        return finish

    def _mismatch_callback(self, ma_ho_so: str, judgement: Judgement, held: bool, at: datetime) -> Next:
        text = f"{disagreement_text(judgement)} {note_text('identity_held' if held else 'identity_warned')}"
        return callback(ma_ho_so, None, CallbackEvent.IDENTITY_MISMATCH, at=at, ministry_status=None, text=text,
                        extra={"SaiLech": list(judgement.fields)})

    def _unverified(self, job: DeliveryJob, dossier: Dossier, reason: str) -> Finish:
        def finish(session: Session) -> None:
            _deliver_unverified(session, job, dossier.beneficiary.residence.commune_code, reason)

        return finish

    def on_retry(self, session: Session, message: Message, error: DeliveryError) -> None:
        """The service failed; the dossier waits (it stays ``queued``: nothing was tried at the ministry yet)."""

    def on_dead(self, session: Session, message: Message, error: DeliveryError) -> None:
        """The step gave up (a refusal, or a bug retried to its end): the revision goes on unverified."""
        job = dossiers.delivery_job(session, message.payload["dossier_id"], message.payload["revision"])
        if job is None or job.revision_state != RevisionState.PENDING or job.delivered_revision is not None:
            return
        commune = dossier_from_json(job.content).beneficiary.residence.commune_code
        _deliver_unverified(session, job, commune, error.message)


def _deliver_unverified(session: Session, job: DeliveryJob, commune: str, reason: str) -> None:
    now = utcnow()
    check = NewCheck(job.dossier_id, job.ma_ho_so, job.revision_id, job.revision, IdentityOutcome.UNVERIFIED,
                     IdentityAction.UNVERIFIED, commune, reason=reason[:500])
    repository.record(session, check, now)
    finish_step(session, Outcome(
        events=[NewEvent(job.dossier_id, DossierEventKind.IDENTITY_UNVERIFIED, now, job.revision,
                         {"reason": check.reason})],
        then=[delivery(job.ma_ho_so, job.dossier_id, job.revision,
                       note_text("identity_unverified", reason="dịch vụ không trả lời hoặc từ chối yêu cầu"))]))
    IDENTITY_CHECKS.labels(IdentityOutcome.UNVERIFIED.value).inc()
    log.warning("identity_unverified", ma_ho_so=job.ma_ho_so, revision=job.revision, reason=check.reason)


def _event_detail(check: NewCheck) -> dict[str, Any]:
    return {"outcome": check.outcome, "action": check.action, "fields": list(check.fields),
            "deceased": check.deceased, "request_id": check.request_id}
