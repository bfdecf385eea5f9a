"""The fault settings in force, changed at run time, and the decision for each callback."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from adapters.province.sandbox.config import CallbackFaults


@dataclass(frozen=True)
class InjectedFailure:
    """An answer to give instead of processing the request."""

    status: int
    retry_after: int | None
    reason: str  # "down" or "fail_next"


class FaultSwitch:
    """Holds the :class:`CallbackFaults` in force; ``fail_next`` counts down as callbacks consume it."""

    def __init__(self, settings: CallbackFaults) -> None:
        self._lock = threading.Lock()
        self._start = settings.model_copy(deep=True)
        self._settings = settings.model_copy(deep=True)

    @property
    def settings(self) -> CallbackFaults:
        """A copy of the settings in force (``fail_next`` as consumed so far)."""
        with self._lock:
            return self._settings.model_copy(deep=True)

    def replace(self, settings: CallbackFaults) -> CallbackFaults:
        """Put ``settings`` in force."""
        with self._lock:
            self._settings = settings.model_copy(deep=True)
            return self._settings.model_copy(deep=True)

    def update(self, changes: dict[str, Any]) -> CallbackFaults:
        """Merge ``changes`` into the settings in force; raises pydantic's ValidationError if invalid."""
        with self._lock:
            self._settings = CallbackFaults.model_validate({**self._settings.model_dump(), **changes})
            return self._settings.model_copy(deep=True)

    def restore(self) -> None:
        """Back to the start-up settings."""
        with self._lock:
            self._settings = self._start.model_copy(deep=True)

    def down(self) -> InjectedFailure | None:
        """The answer to every non-sandbox request while the province is down, else None."""
        with self._lock:
            s = self._settings
            return InjectedFailure(s.status, s.retry_after, "down") if s.down else None

    def take(self) -> InjectedFailure | None:
        """The failure for this callback (consuming one ``fail_next``), or None to process it."""
        with self._lock:
            s = self._settings
            if s.down:
                return InjectedFailure(s.status, s.retry_after, "down")
            if s.fail_next > 0:
                s.fail_next -= 1
                return InjectedFailure(s.status, s.retry_after, "fail_next")
            return None

    def hang_s(self) -> float:
        """How long to hold a processed callback's answer back."""
        with self._lock:
            return self._settings.hang_s
