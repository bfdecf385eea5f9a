"""What the sandbox has seen, in memory: callbacks (deduplicated by EventId), every callback
attempt (refusals included), and the dossiers it posted. Thread-safe: the posting endpoint runs
in a worker thread while callbacks arrive on the event loop.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from adapters.province.sandbox.validation import DELIVERED, STATUS_CHANGED, parse_timestamp

ATTEMPT_LIMIT = 10_000  # oldest attempts are dropped past it; callbacks and posts are kept


@dataclass
class CallbackRecord:
    """One callback as first received, with what was noticed about it since."""

    seq: int
    body: dict[str, Any]
    received_at: str
    signature_ok: bool
    signature_problem: str | None
    signed_at: int | None
    warnings: list[str]
    out_of_order: bool = False
    duplicates: int = 0
    duplicate_body_differs: bool = False

    @property
    def event_id(self) -> str:
        """The callback's EventId."""
        return str(self.body["EventId"])

    @property
    def ma_ho_so(self) -> str:
        """The dossier it is about."""
        return str(self.body["MaHoSo"])

    def as_dict(self) -> dict[str, Any]:
        """The body's fields as sent, then the sandbox's observations in lower case."""
        return {
            **self.body,
            "seq": self.seq,
            "received_at": self.received_at,
            "signature_ok": self.signature_ok,
            "signature_problem": self.signature_problem,
            "signature_t": self.signed_at,
            "out_of_order": self.out_of_order,
            "duplicates": self.duplicates,
            "duplicate_body_differs": self.duplicate_body_differs,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class Attempt:
    """One request to ``POST /callbacks`` and how it was answered."""

    seq: int
    at: str
    status: int
    outcome: str
    event_id: str | None
    ma_ho_so: str | None
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"seq": self.seq, "at": self.at, "status": self.status, "outcome": self.outcome,
                "EventId": self.event_id, "MaHoSo": self.ma_ho_so, "detail": self.detail}


@dataclass
class PostedDossier:
    """A sample dossier the sandbox posted to the gateway, and the gateway's answer."""

    seq: int
    ma_ho_so: str
    procedure: str
    encoding: str
    at: str
    status: int | None = None
    answer: Any = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form (the answer as the gateway sent it: it carries no personal data)."""
        return {"seq": self.seq, "MaHoSo": self.ma_ho_so, "procedure": self.procedure, "encoding": self.encoding,
                "at": self.at, "status": self.status, "body": self.answer, "error": self.error}


@dataclass
class _Counters:
    duplicates: int = 0
    out_of_order: int = 0


@dataclass
class Store:
    """The sandbox's memory; every method takes the lock."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _callbacks: list[CallbackRecord] = field(default_factory=list)
    _by_event: dict[str, CallbackRecord] = field(default_factory=dict)
    _latest: dict[str, datetime] = field(default_factory=dict)
    _status_changed: set[str] = field(default_factory=set)  # MaHoSo that had a CAP_NHAT_TRANG_THAI
    _by_kind: dict[str, int] = field(default_factory=dict)
    _attempts: list[Attempt] = field(default_factory=list)
    _posted: list[PostedDossier] = field(default_factory=list)
    _counters: _Counters = field(default_factory=_Counters)
    _seq: int = 0

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def record_callback(
        self,
        body: dict[str, Any],
        *,
        received_at: str,
        signature_ok: bool,
        signature_problem: str | None,
        signed_at: int | None,
        warnings: list[str],
    ) -> tuple[CallbackRecord, bool]:
        """Record a valid callback unless its EventId was seen; returns (the record, whether new)."""
        with self._lock:
            seen = self._by_event.get(str(body["EventId"]))
            if seen is not None:
                seen.duplicates += 1
                # A retry must carry the same body; a different one under the same id is a sender bug.
                seen.duplicate_body_differs |= seen.body != body
                self._counters.duplicates += 1
                return seen, False
            record = CallbackRecord(self._next(), dict(body), received_at, signature_ok, signature_problem,
                                    signed_at, list(warnings))
            if body["SuKien"] == DELIVERED and record.ma_ho_so in self._status_changed:
                record.warnings.append("DA_CHUYEN_BO after a CAP_NHAT_TRANG_THAI for this dossier "
                                       "(a supplement, or events sent out of order)")
            moment = parse_timestamp(str(body["ThoiDiem"]))
            latest = self._latest.get(record.ma_ho_so)
            if moment is not None:
                if latest is not None and moment < latest:
                    # Only detectable this way: an event that happened before one already received.
                    record.out_of_order = True
                    self._counters.out_of_order += 1
                else:
                    self._latest[record.ma_ho_so] = moment
            if body["SuKien"] == STATUS_CHANGED:
                self._status_changed.add(record.ma_ho_so)
            kind = str(body["SuKien"])
            self._by_kind[kind] = self._by_kind.get(kind, 0) + 1
            self._callbacks.append(record)
            self._by_event[record.event_id] = record
            return record, True

    def record_attempt(self, *, at: str, status: int, outcome: str, event_id: str | None = None,
                       ma_ho_so: str | None = None, detail: str | None = None) -> Attempt:
        """Log one request to ``POST /callbacks``."""
        with self._lock:
            attempt = Attempt(self._next(), at, status, outcome, event_id, ma_ho_so, detail)
            self._attempts.append(attempt)
            if len(self._attempts) > ATTEMPT_LIMIT:
                del self._attempts[: len(self._attempts) - ATTEMPT_LIMIT]
            return attempt

    def add_posted(self, ma_ho_so: str, procedure: str, encoding: str, at: str) -> PostedDossier:
        """Note a dossier about to be posted; the caller fills in the answer."""
        with self._lock:
            posted = PostedDossier(self._next(), ma_ho_so, procedure, encoding, at)
            self._posted.append(posted)
            return posted

    def callbacks(self, ma_ho_so: str | None = None) -> list[CallbackRecord]:
        """Callbacks in arrival order, of one dossier or all."""
        with self._lock:
            return [c for c in self._callbacks if ma_ho_so is None or c.ma_ho_so == ma_ho_so]

    def attempts(self, ma_ho_so: str | None = None) -> list[Attempt]:
        """Every request to ``POST /callbacks``, oldest first."""
        with self._lock:
            return [a for a in self._attempts if ma_ho_so is None or a.ma_ho_so == ma_ho_so]

    def posted(self, ma_ho_so: str | None = None) -> list[PostedDossier]:
        """Dossiers posted, oldest first."""
        with self._lock:
            return [p for p in self._posted if ma_ho_so is None or p.ma_ho_so == ma_ho_so]

    def counts(self) -> dict[str, int]:
        """Totals: callbacks recorded, duplicates dropped, out-of-order arrivals, refused attempts, posts."""
        with self._lock:
            refused = sum(1 for a in self._attempts if a.outcome not in ("accepted", "duplicate"))
            return {"callbacks": len(self._callbacks), "duplicates": self._counters.duplicates,
                    "out_of_order": self._counters.out_of_order, "refused": refused, "posted": len(self._posted)}

    def summary(self) -> dict[str, Any]:
        """Totals without the records (cheap with 100,000s of callbacks): :meth:`counts`, callbacks per
        ``SuKien``, and how many distinct dossiers were called back."""
        with self._lock:
            dossiers = len({c.ma_ho_so for c in self._callbacks})
            by_kind = dict(self._by_kind)
        return {"totals": self.counts(), "bySuKien": by_kind, "dossiers": dossiers}

    def dossier_codes(self) -> list[str]:
        """Every MaHoSo seen (posted or called back), most recently active first."""
        with self._lock:
            last: dict[str, int] = {}
            seen: list[tuple[str, int]] = [(p.ma_ho_so, p.seq) for p in self._posted]
            seen += [(c.ma_ho_so, c.seq) for c in self._callbacks]
            for code, seq in seen:
                last[code] = max(last.get(code, 0), seq)
            return sorted(last, key=lambda code: last[code], reverse=True)

    def reset(self) -> None:
        """Forget everything."""
        with self._lock:
            self._callbacks.clear()
            self._by_event.clear()
            self._latest.clear()
            self._status_changed.clear()
            self._by_kind.clear()
            self._attempts.clear()
            self._posted.clear()
            self._counters = _Counters()
