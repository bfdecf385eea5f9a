"""When an alert goes out: pure decisions over one condition's :class:`~gateway.models.AlertStateRow`.

Each function updates the row (the caller holds its lock and saves it) and returns the :class:`Alert` to
enqueue, or None. Grouping: at most one alert per kind and target per ``repeat_s``; a resolution is always
told (once) when a firing alert was; dead messages are counted meanwhile and the next alert says how many.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from gateway.models import AlertStateRow
from gateway.vocabulary import AlertKind, AlertState


@dataclass(frozen=True)
class Alert:
    """An alert decided: what the webhook body is built from (gateway/alerts/service.py)."""

    kind: AlertKind
    target: str
    state: AlertState
    started_at: datetime
    count: int = 1
    detail: dict[str, Any] = field(default_factory=dict)


def _window_passed(row: AlertStateRow, now: datetime, repeat_s: float) -> bool:
    return row.last_sent_at is None or now - row.last_sent_at >= timedelta(seconds=repeat_s)


def dead_seen(row: AlertStateRow, now: datetime, repeat_s: float, detail: dict[str, Any]) -> Alert | None:
    """A message of the row's kind went dead: an alert now, or counted for the next one (grouping)."""
    row.unsent += 1
    row.first_unsent_at = row.first_unsent_at or now
    row.last_detail = detail
    return flush_dead(row, now, repeat_s)


def flush_dead(row: AlertStateRow, now: datetime, repeat_s: float) -> Alert | None:
    """The alert of the dead messages counted since the last one, once the grouping window has passed."""
    if row.unsent <= 0 or not _window_passed(row, now, repeat_s):
        return None
    alert = Alert(AlertKind.MESSAGE_DEAD, row.target, AlertState.FIRING, row.first_unsent_at or now,
                  count=row.unsent, detail=dict(row.last_detail or {}))
    row.unsent, row.first_unsent_at, row.last_sent_at = 0, None, now
    return alert


def observe(row: AlertStateRow, kind: AlertKind, *, holding: bool, now: datetime, since: datetime | None,
            threshold_s: float, repeat_s: float, detail: dict[str, Any]) -> Alert | None:
    """A periodic check saw the condition hold (``since``: when it began, if known) or not.

    Fires once it has held ``threshold_s`` (and the grouping window allows), reminds every ``repeat_s``
    while it holds, and tells its resolution once when it stops holding after firing.
    """
    if not holding:
        row.observed_since = None
        if row.firing_since is None:
            return None
        started, row.firing_since, row.last_sent_at = row.firing_since, None, now
        return Alert(kind, row.target, AlertState.RESOLVED, started, detail=detail)
    if row.observed_since is None:
        row.observed_since = min(since, now) if since is not None else now
    if not _window_passed(row, now, repeat_s):
        return None
    if row.firing_since is None and now - row.observed_since < timedelta(seconds=threshold_s):
        return None
    row.firing_since = row.firing_since or now
    row.last_sent_at = now
    return Alert(kind, row.target, AlertState.FIRING, row.observed_since, detail=detail)
