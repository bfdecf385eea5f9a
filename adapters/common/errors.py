"""A peer's failures as errors that say what to do: retry later (with the peer's hint of when) or give up.

Shared by every client of a peer that answers in the ministry-api §2 shape
(``{"maLoi", "thongDiep", "chiTiet"}``) and speaks OAuth on its token endpoint. Messages are built from
the status, the peer's own ``maLoi``/``thongDiep``/``chiTiet`` and fixed text only: a request body is never
echoed, so an error can be logged, stored and shown without leaking personal data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

# maLoi codes ministry-api §2 defines and other peers on the same platform reuse.
INVALID_DATA = "DU_LIEU_KHONG_HOP_LE"
RATE_LIMITED = "VUOT_GIOI_HAN"
SYSTEM_ERROR = "LOI_HE_THONG"

# Codes of failures that never reached an answer (status None), or answers we could not use.
TIMEOUT = "TIMEOUT"
CONNECTION = "CONNECTION"
PROTOCOL = "PROTOCOL"
TRANSPORT = "TRANSPORT"
INVALID_RESPONSE = "INVALID_RESPONSE"
UNEXPECTED_STATUS = "UNEXPECTED_STATUS"

_DELAY_SECONDS = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True, slots=True)
class FieldFault:
    """One entry of the peer's ``chiTiet``: the field at fault and the peer's reason."""

    field: str  # truong, e.g. "doiTuong.soDinhDanh"
    message: str  # thongDiep, the peer's words (Vietnamese), shown to officers


class PeerError(Exception):
    """A failed exchange with a peer, with everything the outbox needs to decide what next.

    ``transient`` says whether retrying can succeed; ``retry_after`` (seconds) is the peer's own
    minimum wait when it sent one.
    """

    transient: bool = True

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: list[FieldFault] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details: list[FieldFault] = list(details or [])
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = f"HTTP {self.status}" if self.status is not None else "no answer"
        code = f" {self.code}" if self.code else ""
        return f"{where}{code}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, details={self.details!r}, retry_after={self.retry_after!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments defeat Exception's default pickling (process pools, queues).
        return (_rebuild, (type(self), self.message, self.status, self.code, self.details, self.retry_after))


def _rebuild(
    cls: type[PeerError],
    message: str,
    status: int | None,
    code: str | None,
    details: list[FieldFault],
    retry_after: float | None,
) -> PeerError:
    return cls(message, status=status, code=code, details=details, retry_after=retry_after)


@dataclass(frozen=True, slots=True)
class ErrorKinds:
    """A peer's own error classes and wording, for the shared classification to build.

    ``peer`` is how messages name it ("the ministry"); ``auth`` is a token refused twice (transient),
    ``credentials`` a client id/secret the token endpoint refused (permanent).
    """

    peer: str
    transient: type[PeerError]
    permanent: type[PeerError]
    auth: type[PeerError]
    credentials: type[PeerError]
    default_messages: Mapping[int, str] = field(default_factory=dict)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header value, or None when missing or unreadable.

    Accepts both forms of RFC 9110: delay-seconds (``"120"``) and an HTTP-date
    (``"Wed, 21 Oct 2015 07:28:00 GMT"``, relative to ``now``, default the wall clock). A date in
    the past gives 0.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _DELAY_SECONDS.fullmatch(text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" zone: RFC 5322 says UTC with unknown origin
        when = when.replace(tzinfo=UTC)
    reference = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - reference).total_seconds())


def json_object_or_empty(response: httpx.Response) -> dict[str, Any]:
    """The answer's body as a JSON object, or ``{}`` when it is not one."""
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def field_faults(body: Mapping[str, Any]) -> list[FieldFault]:
    """The ``chiTiet`` entries of an error body."""
    raw = body.get("chiTiet")
    if not isinstance(raw, list):
        return []
    faults = []
    for item in raw:
        if isinstance(item, dict):
            faults.append(
                FieldFault(field=str(item.get("truong") or ""), message=str(item.get("thongDiep") or ""))
            )
    return faults


@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    """What an error answer says: its status, ``maLoi`` (or OAuth ``error``), the peer's own message."""

    status: int
    code: str | None
    peer_message: str | None
    fields: dict[str, Any]  # the keyword arguments of a PeerError: status, code, details, retry_after


# A peer's rule for answers the common table does not decide (None: let the table decide).
SpecialCase = Callable[[ErrorAnswer, str], PeerError | None]


def classify_answer(
    response: httpx.Response,
    kinds: ErrorKinds,
    *,
    now: datetime | None = None,
    special: SpecialCase | None = None,
) -> PeerError:
    """The error a non-success answer stands for: 401 auth, 429 and 5xx transient, other 4xx permanent.

    The body may be the §2 ``{"maLoi", "thongDiep", "chiTiet"}``, an OAuth ``{"error"}``, or not JSON at
    all (a proxy's page); the status alone then decides. ``special`` sees the answer (and the message the
    table would use) first, for a peer's own codes.
    """
    status = response.status_code
    body = json_object_or_empty(response)
    raw_code = body.get("maLoi", body.get("error"))
    code = raw_code if isinstance(raw_code, str) and raw_code else None
    peer_message = body.get("thongDiep")
    if not isinstance(peer_message, str) or not peer_message.strip():
        peer_message = None
    message = peer_message or kinds.default_messages.get(status) or f"{kinds.peer} answered HTTP {status}"
    fields: dict[str, Any] = {
        "status": status,
        "code": code,
        "details": field_faults(body),
        "retry_after": parse_retry_after(response.headers.get("Retry-After"), now=now),
    }

    if status == 401:
        return kinds.auth(message, **fields)
    if status == 429 or status >= 500:
        return kinds.transient(message, **fields)
    if special is not None and (error := special(ErrorAnswer(status, code, peer_message, fields), message)):
        return error
    if 400 <= status < 500:
        return kinds.permanent(message, **fields)
    # 1xx/2xx/3xx where an error was expected (redirects are not followed): most likely an
    # intermediary in front of the peer; retrying is safer than dead-lettering every message.
    fields["code"] = code or UNEXPECTED_STATUS
    return kinds.transient(f"unexpected answer HTTP {status} from {kinds.peer}", **fields)


def classify_exception(exc: BaseException, kinds: ErrorKinds) -> PeerError:
    """The transient error a transport failure (no usable answer) stands for.

    Raises TypeError for anything that is not a transport failure: those are bugs, not weather.
    """
    name = type(exc).__name__
    peer = kinds.peer
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return kinds.transient(f"timed out talking to {peer} ({name})", code=TIMEOUT)
    if isinstance(exc, httpx.ConnectError | httpx.ReadError | httpx.WriteError | httpx.CloseError):
        return kinds.transient(f"connection to {peer} failed ({name})", code=CONNECTION)
    if isinstance(exc, httpx.ProtocolError):
        return kinds.transient(f"{peer} broke the HTTP protocol ({name})", code=PROTOCOL)
    if isinstance(exc, httpx.RequestError | OSError):
        return kinds.transient(f"transport failure talking to {peer} ({name})", code=TRANSPORT)
    raise TypeError(f"not a transport failure: {name}")
