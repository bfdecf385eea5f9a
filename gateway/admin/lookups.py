"""Two read-only queries the console needs beyond :mod:`gateway.admin.service` (a count for the bulk-replay
confirmation, and the stored error details to explain a page of the list)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, select
from sqlmodel import col

from gateway.admin.filters import MessageFilter
from gateway.admin.service import filter_conditions
from gateway.db import Database
from outbox.models import OutboxMessage


def count_messages(db: Database, filt: MessageFilter) -> int:
    """How many messages match ``filt``."""
    with db.session() as session:
        return int(session.execute(
            select(func.count()).select_from(OutboxMessage).where(and_(True, *filter_conditions(filt)))
        ).scalar_one())


def last_error_details(db: Database, message_ids: Sequence[int]) -> dict[int, dict[str, Any] | None]:
    """The stored detail (``maLoi``, ``chiTiet``…) of each message's last error, by message id."""
    if not message_ids:
        return {}
    with db.session() as session:
        rows = session.execute(
            select(col(OutboxMessage.id), col(OutboxMessage.last_error_detail))
            .where(col(OutboxMessage.id).in_(list(message_ids)))
        ).all()
    return {int(row[0]): row[1] for row in rows}
