"""The population service's failures: retry later (with its hint of when) or give up.

The service shares the ministry's error shape and rules (ministry-api §1–2, population-api §2):
401 is refused token (repeated once with a fresh one, then transient), 429 and 500/502/503/504 are
transient with ``retry_after`` when the service sent ``Retry-After``, as are timeouts and broken
connections; 400 ``DU_LIEU_KHONG_HOP_LE`` and every other 4xx are permanent. Messages never echo what
was sent (an ID number, a name, a birth date).
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

import httpx

from adapters.common.errors import (
    INVALID_DATA,
    INVALID_RESPONSE,
    RATE_LIMITED,
    ErrorKinds,
    FieldFault,
    PeerError,
    classify_answer,
)
from adapters.common.errors import classify_exception as _classify_exception

__all__ = [
    "INVALID_DATA", "INVALID_RESPONSE", "KINDS", "RATE_LIMITED", "FieldFault", "PermanentPopulationError",
    "PopulationAuthError", "PopulationCredentialsError", "PopulationError", "TransientPopulationError",
    "classify", "classify_exception",
]


class PopulationError(PeerError):
    """A failed verification: ``transient`` says whether to retry, ``retry_after`` (s) not before when."""


class TransientPopulationError(PopulationError):
    """Retry later, not before ``retry_after`` seconds when it is set (timeouts, 5xx, 429, a lost answer)."""

    transient = True


class PermanentPopulationError(PopulationError):
    """Give up: the same request cannot succeed (400 DU_LIEU_KHONG_HOP_LE with ``details``, other 4xx)."""

    transient = False


class PopulationAuthError(TransientPopulationError):
    """The service refused a freshly fetched token too (401 twice): transient, worth a later retry."""


class PopulationCredentialsError(PermanentPopulationError):
    """The token endpoint refused our client id/secret/scope: a configuration error, no retry helps."""


KINDS = ErrorKinds(
    peer="the population service",
    transient=TransientPopulationError,
    permanent=PermanentPopulationError,
    auth=PopulationAuthError,
    credentials=PopulationCredentialsError,
    default_messages={
        400: "the population service rejected the data",
        401: "the population service rejected the access token",
        403: "the population service refused access",
        404: "the population service does not know this path",
        429: "rate limited by the population service",
    },
)
"""The population service's error classes, for the shared classification and token code."""


def classify(response: httpx.Response, *, now: datetime | None = None) -> PopulationError:
    """The error a non-success answer of the service stands for."""
    return cast(PopulationError, classify_answer(response, KINDS, now=now))


def classify_exception(exc: BaseException) -> PopulationError:
    """The transient error a transport failure (no usable answer) stands for; TypeError for anything else."""
    return cast(PopulationError, _classify_exception(exc, KINDS))
