"""Classification of the ministry's failures into transient (retry) and permanent (dead letter).

The table is the contract's (docs/contracts/ministry-api.md, section 2); the part every peer on the
platform shares (the error base, Retry-After, transport failures) is ``adapters.common.errors``. Messages
are built from the status, the ministry's own ``maLoi``/``thongDiep``/``chiTiet`` and fixed text only: a
request body is never echoed, so an error can be logged, stored and shown without leaking personal data.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

import httpx

from adapters.common.errors import (
    CONNECTION,
    INVALID_DATA,
    INVALID_RESPONSE,
    PROTOCOL,
    RATE_LIMITED,
    SYSTEM_ERROR,
    TIMEOUT,
    TRANSPORT,
    UNEXPECTED_STATUS,
    ErrorAnswer,
    ErrorKinds,
    FieldFault,
    PeerError,
    classify_answer,
    parse_retry_after,
)
from adapters.common.errors import classify_exception as _classify_exception

__all__ = [
    "AMOUNT_MISMATCH", "CHECKSUM_MISMATCH", "CONNECTION", "DOSSIER_EXISTS", "FILE_TOO_LARGE",
    "IDEMPOTENCY_KEY_REUSED", "INVALID_DATA", "INVALID_RESPONSE", "KINDS", "NOT_FOUND", "PROTOCOL", "RATE_LIMITED",
    "SYSTEM_ERROR", "TIMEOUT", "TRANSPORT", "UNEXPECTED_STATUS", "UNSUPPORTED_TYPE", "WRONG_STATE",
    "CredentialsError", "FieldFault", "MinistryAuthError", "MinistryError", "PermanentMinistryError",
    "TransientMinistryError", "classify", "classify_exception", "parse_retry_after",
]

# maLoi codes of the contract that the client acts on (the shared ones come from adapters.common.errors).
NOT_FOUND = "KHONG_TIM_THAY"
DOSSIER_EXISTS = "HO_SO_DA_TON_TAI"
FILE_TOO_LARGE = "TEP_QUA_LON"
UNSUPPORTED_TYPE = "DINH_DANG_KHONG_HO_TRO"
CHECKSUM_MISMATCH = "SAI_MA_BAM"
IDEMPOTENCY_KEY_REUSED = "KHOA_TRUNG_LAP_KHAC_NOI_DUNG"
# §5 bo-sung, §8 thoi-huong (stopped from another month), §9 truy-linh (months already back-paid: our reading)
WRONG_STATE = "TRANG_THAI_KHONG_PHU_HOP"
AMOUNT_MISMATCH = "SAI_SO_TIEN"  # §8 truyThu, §9 truy-linh: chiTiet names the months the ministry's record disagrees on

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


class MinistryError(PeerError):
    """A failed exchange with the ministry, with everything the outbox needs to decide what next.

    ``transient`` says whether retrying can succeed; ``retry_after`` (seconds) is the ministry's
    own minimum wait when it sent one.
    """

    transient: bool = True


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


KINDS = ErrorKinds(
    peer="the ministry",
    transient=TransientMinistryError,
    permanent=PermanentMinistryError,
    auth=MinistryAuthError,
    credentials=CredentialsError,
    default_messages=_DEFAULT_MESSAGES,
)
"""The ministry's error classes, for the shared classification and token code."""


def _ministry_422(answer: ErrorAnswer, _message: str) -> MinistryError | None:
    if answer.status == 422 and answer.code == AMOUNT_MISMATCH:
        # The same amounts would be refused again: an officer must look (§8). ``details`` keeps the months.
        return PermanentMinistryError(_message, **answer.fields)
    if answer.status == 422 and answer.code == CHECKSUM_MISMATCH:
        return TransientMinistryError(_message, **answer.fields)
    if answer.status == 422 and answer.code == IDEMPOTENCY_KEY_REUSED:
        bug = (
            "gateway bug: an idempotency key was reused with a different body "
            "(keys must be derived from the exact content sent)"
        )
        peer_message = answer.peer_message
        return PermanentMinistryError(f"{bug}; ministry: {peer_message}" if peer_message else bug, **answer.fields)
    return None


def classify(response: httpx.Response, *, now: datetime | None = None) -> MinistryError:
    """The error a non-success answer of the ministry stands for, per the contract's table.

    The body may be the contract's ``{"maLoi", "thongDiep", "chiTiet"}``, an OAuth ``{"error"}``,
    or not JSON at all (a proxy's page); the status alone then decides.
    """
    return cast(MinistryError, classify_answer(response, KINDS, now=now, special=_ministry_422))


def classify_exception(exc: BaseException) -> MinistryError:
    """The transient error a transport failure (no usable answer) stands for.

    Raises TypeError for anything that is not a transport failure: those are bugs, not weather.
    """
    return cast(MinistryError, _classify_exception(exc, KINDS))
