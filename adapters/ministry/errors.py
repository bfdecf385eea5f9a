"""Classification of the ministry's failures into transient (retry) and permanent (dead letter).

The table is the contract's (docs/contracts/ministry-api.md, section 2). Messages are built from
the status, the ministry's own ``maLoi``/``thongDiep``/``chiTiet`` and fixed text only: a request
body is never echoed, so an error can be logged, stored and shown without leaking personal data.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

# maLoi codes of the contract that the client acts on.
INVALID_DATA = "DU_LIEU_KHONG_HOP_LE"
NOT_FOUND = "KHONG_TIM_THAY"
DOSSIER_EXISTS = "HO_SO_DA_TON_TAI"
FILE_TOO_LARGE = "TEP_QUA_LON"
UNSUPPORTED_TYPE = "DINH_DANG_KHONG_HO_TRO"
CHECKSUM_MISMATCH = "SAI_MA_BAM"
IDEMPOTENCY_KEY_REUSED = "KHOA_TRUNG_LAP_KHAC_NOI_DUNG"
RATE_LIMITED = "VUOT_GIOI_HAN"
SYSTEM_ERROR = "LOI_HE_THONG"
WRONG_STATE = "TRANG_THAI_KHONG_PHU_HOP"

# Codes of failures that never reached an answer (status None), or answers we could not use.
TIMEOUT = "TIMEOUT"
CONNECTION = "CONNECTION"
PROTOCOL = "PROTOCOL"
TRANSPORT = "TRANSPORT"
INVALID_RESPONSE = "INVALID_RESPONSE"
UNEXPECTED_STATUS = "UNEXPECTED_STATUS"

_DEFAULT_MESSAGES: dict[int, str] = {
    400: "the ministry rejected the data",
    401: "the ministry rejected the access token",
    403: "the ministry refused access",
    404: "the ministry does not know this id",
    409: "the ministry refused: conflict with its current state",
    413: "the file is larger than the ministry accepts (20 MiB)",
    415: "the ministry does not accept this file type (PDF, JPEG or PNG only)",
    422: "the ministry could not process the request",
    429: "rate limited by the ministry",
}

_DELAY_SECONDS = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True, slots=True)
class FieldFault:
    """One entry of the ministry's ``chiTiet``: the field at fault and the ministry's reason."""

    field: str  # truong, e.g. "doiTuong.soDinhDanh"
    message: str  # thongDiep, the ministry's words (Vietnamese), shown to officers


class MinistryError(Exception):
    """A failed exchange with the ministry, with everything the outbox needs to decide what next.

    ``transient`` says whether retrying can succeed; ``retry_after`` (seconds) is the ministry's
    own minimum wait when it sent one.
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
    cls: type[MinistryError],
    message: str,
    status: int | None,
    code: str | None,
    details: list[FieldFault],
    retry_after: float | None,
) -> MinistryError:
    return cls(message, status=status, code=code, details=details, retry_after=retry_after)


class TransientMinistryError(MinistryError):
    """Retrying later can succeed (timeouts, connection errors, 5xx, 429, damaged bytes)."""

    transient = True


class PermanentMinistryError(MinistryError):
    """Retrying the same request cannot succeed: dead-letter it and report the reason."""

    transient = False


class MinistryAuthError(TransientMinistryError):
    """The ministry rejected a freshly fetched token too (401 twice): transient, worth a later retry."""


class CredentialsError(PermanentMinistryError):
    """The token endpoint rejected our client id/secret: a configuration error, no retry helps."""


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


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def _details(body: dict[str, Any]) -> list[FieldFault]:
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


def classify(response: httpx.Response, *, now: datetime | None = None) -> MinistryError:
    """The error a non-success answer of the ministry stands for, per the contract's table.

    The body may be the contract's ``{"maLoi", "thongDiep", "chiTiet"}``, an OAuth ``{"error"}``,
    or not JSON at all (a proxy's page); the status alone then decides.
    """
    status = response.status_code
    body = _error_body(response)
    raw_code = body.get("maLoi", body.get("error"))
    code = raw_code if isinstance(raw_code, str) and raw_code else None
    peer_message = body.get("thongDiep")
    if not isinstance(peer_message, str) or not peer_message.strip():
        peer_message = None
    message = peer_message or _DEFAULT_MESSAGES.get(status) or f"the ministry answered HTTP {status}"
    fields: dict[str, Any] = {
        "status": status,
        "code": code,
        "details": _details(body),
        "retry_after": parse_retry_after(response.headers.get("Retry-After"), now=now),
    }

    if status == 401:
        return MinistryAuthError(message, **fields)
    if status == 429 or status >= 500:
        return TransientMinistryError(message, **fields)
    if status == 422 and code == CHECKSUM_MISMATCH:
        return TransientMinistryError(message, **fields)
    if status == 422 and code == IDEMPOTENCY_KEY_REUSED:
        bug = (
            "gateway bug: an idempotency key was reused with a different body "
            "(keys must be derived from the exact content sent)"
        )
        return PermanentMinistryError(f"{bug}; ministry: {peer_message}" if peer_message else bug, **fields)
    if 400 <= status < 500:
        return PermanentMinistryError(message, **fields)
    # 1xx/2xx/3xx where an error was expected (redirects are not followed): most likely an
    # intermediary in front of the ministry; retrying is safer than dead-lettering every dossier.
    fields["code"] = code or UNEXPECTED_STATUS
    return TransientMinistryError(f"unexpected answer HTTP {status} from the ministry", **fields)


def classify_exception(exc: BaseException) -> MinistryError:
    """The transient error a transport failure (no usable answer) stands for.

    Raises TypeError for anything that is not a transport failure: those are bugs, not weather.
    """
    name = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return TransientMinistryError(f"timed out talking to the ministry ({name})", code=TIMEOUT)
    if isinstance(exc, httpx.ConnectError | httpx.ReadError | httpx.WriteError | httpx.CloseError):
        return TransientMinistryError(f"connection to the ministry failed ({name})", code=CONNECTION)
    if isinstance(exc, httpx.ProtocolError):
        return TransientMinistryError(f"the ministry broke the HTTP protocol ({name})", code=PROTOCOL)
    if isinstance(exc, httpx.RequestError | OSError):
        return TransientMinistryError(f"transport failure talking to the ministry ({name})", code=TRANSPORT)
    raise TypeError(f"not a transport failure: {name}")
