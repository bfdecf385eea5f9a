"""Flows as chains of outbox steps: how a handler ends its step and starts the next one.

A flow (a revision's delivery, a death notice) is a chain of outbox messages. Each handler does its
peer call in ``handle`` and returns a finish that, in the SAME transaction that marks its message
done, records the outcome (a dossier event, a state) and enqueues what follows: the next step, or a
province callback. A crash at any instant leaves either the step not done (it runs again) or the
step done with its successor queued; never one without the other.

Everything a step does outside the database carries a key derived from the workflow id (the
revision, the notice) and the step name, so a step run twice has its effect once: the ministry's
``Idempotency-Key``, the callback's ``EventId``. gateway/README.md shows the pattern.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from gateway.dossiers import repository
from gateway.dossiers.repository import NewEvent
from outbox.store import enqueue_many

_EVENT_NAMESPACE = uuid.UUID("6f1c1f0e-5b53-4d0a-9a51-3c1d2a7e0b42")
"""Fixed: EventIds derived from a step stay the same across releases."""


@dataclass(frozen=True)
class Step:
    """One step of one workflow instance: ``workflow_id`` names the instance, ``name`` the step."""

    workflow_id: str
    name: str

    @property
    def key(self) -> str:
        """The step's idempotency key (``<name>-<workflow id>``, at most 64 characters as the ministry allows)."""
        key = f"{self.name}-{self.workflow_id}"
        if not 1 <= len(key) <= 64:
            raise ValueError(f"idempotency key of {self.name!r} is {len(key)} characters (1 to 64)")
        return key

    @property
    def event_id(self) -> str:
        """A UUID fixed by the key: a callback this step sends twice carries one ``EventId``, and the
        province drops the second."""
        return str(uuid.uuid5(_EVENT_NAMESPACE, self.key))


@dataclass(frozen=True)
class Next:
    """A message a finished step enqueues: the next step of the flow, or a callback."""

    kind: str
    key: str  # the outbox ordering key
    payload: dict[str, Any]


@dataclass
class Outcome:
    """What a finished step writes: the history lines it adds, and the messages that follow it."""

    events: list[NewEvent] = field(default_factory=list)
    then: list[Next] = field(default_factory=list)


def finish_step(session: Session, outcome: Outcome) -> None:
    """Record ``outcome`` in the caller's transaction (the one that marks the step's message done): its
    events in one insert, then its next messages in order."""
    repository.add_events(session, outcome.events)
    enqueue_many(session, [(n.kind, n.key, n.payload) for n in outcome.then])
