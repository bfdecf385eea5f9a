"""Which outbox messages an administrator means: :class:`MessageFilter`, and the one parser of the text they type.

The admin API, the CLI and the console all build their filter with :meth:`MessageFilter.parse`; a bad value is a
:class:`FilterError` naming each field at fault (in the parser's own names: ``state``, ``kind``, ``ma_ho_so``,
``since``, ``until``, ``error``), which each of them words its own way (problem+json, a bad option, a form).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, tzinfo
from typing import Any

from gateway.admin.timespec import parse_moment
from gateway.vocabulary import MESSAGE_STATES
from mappings.errors import FieldError

INVALID_STATE = "invalid_state"
INVALID_TIME = "invalid_time"
EMPTY_RANGE = "until_not_after_since"
TIME_HINT = "Cần ngày/giờ ISO 8601 (vd. 2026-01-31T08:00+07:00) hoặc khoảng thời gian trước đây (vd. 2h, 7d)."


class FilterError(ValueError):
    """Some filter values are not valid; ``errors`` names each field at fault (``FieldError.field`` is one of the
    parameter names of :meth:`MessageFilter.parse`)."""

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in self.errors))

    def renamed(self, names: dict[str, str]) -> list[FieldError]:
        """The errors with each field given the caller's own name (``ma_ho_so`` → ``MaHoSo``, ``--ma-ho-so``)."""
        return [FieldError(names.get(e.field, e.field), e.code, e.message) for e in self.errors]


def _given(value: str | None) -> str | None:
    """A typed value as it is, or None when nothing was typed."""
    return value or None


@dataclass(frozen=True)
class MessageFilter:
    """Which messages: every field optional, all given ones must hold."""

    state: str | None = None
    kind: str | None = None
    key: str | None = None  # MaHoSo (the ministry deliveries' key; callbacks are matched too)
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    error: str | None = None  # substring of the last error

    @classmethod
    def parse(cls, *, state: str | None = None, kind: str | None = None, ma_ho_so: str | None = None,
              since: str | None = None, until: str | None = None, error: str | None = None,
              naive: tzinfo = UTC, now: datetime | None = None) -> MessageFilter:
        """The filter an administrator typed: empty values mean "any", others are taken as typed; ``state`` one
        of the message states; ``since``/``until`` an ISO date or date-time (read in zone ``naive`` when it has no
        offset) or a duration ago (``2h``, ``7d``), ``until`` after ``since``. Raises :class:`FilterError` naming
        every field at fault."""
        faults: list[FieldError] = []
        state = str(state) if state else None  # a MessageState is a str too: stored as its plain value
        if state is not None and state not in MESSAGE_STATES:
            faults.append(FieldError("state", INVALID_STATE, f"Trạng thái là một trong: {', '.join(MESSAGE_STATES)}."))
        moments: dict[str, datetime | None] = {}
        for name, value in (("since", since), ("until", until)):
            try:
                moments[name] = parse_moment(value, naive=naive, now=now) if value and value.strip() else None
            except ValueError:
                faults.append(FieldError(name, INVALID_TIME, TIME_HINT))
        since_at, until_at = moments.get("since"), moments.get("until")
        if since_at is not None and until_at is not None and until_at <= since_at:
            faults.append(FieldError("until", EMPTY_RANGE, "Thời điểm kết thúc phải sau thời điểm bắt đầu."))
        if faults:
            raise FilterError(faults)
        return cls(state=state, kind=_given(kind), key=_given(ma_ho_so), since=moments["since"],
                   until=moments["until"], error=_given(error))

    def is_empty(self) -> bool:
        """True when no criterion is given (the filter matches every message)."""
        return not any(getattr(self, f.name) for f in fields(self))

    def as_dict(self) -> dict[str, Any]:
        """The filter as JSON (for the audit log)."""
        return {f.name: (v.isoformat() if isinstance(v, datetime) else v)
                for f in fields(self) if (v := getattr(self, f.name)) is not None}
