"""The messages a death notice's steps are (kept apart from the handlers: the intake enqueues the first)."""

from __future__ import annotations

from gateway.vocabulary import MessageKind
from gateway.workflow import Next


def lookup_step(code: str, notice_id: str) -> Next:
    """The first step of notice ``code``: ordered under the code, as its funeral dossier's delivery will be."""
    return Next(MessageKind.NOTICE_LOOKUP, code, {"notice_id": notice_id})


def stop_step(code: str, notice_id: str) -> Next:
    """The stop of notice ``code``'s deceased's allowance."""
    return Next(MessageKind.NOTICE_STOP, code, {"notice_id": notice_id})
