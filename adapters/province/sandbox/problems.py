"""RFC 9457 ``application/problem+json`` answers of the sandbox."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from starlette.responses import JSONResponse

from adapters.province.sandbox.validation import FieldError

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def problem(
    status: int,
    code: str,
    detail: str | None = None,
    *,
    errors: Iterable[FieldError] = (),
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    """A problem answer: ``type`` from the stable ``code``, the fields at fault in ``errors``."""
    body: dict[str, Any] = {
        "type": f"urn:province-sandbox:problem:{code}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    listed = [e.as_dict() for e in errors]
    if listed:
        body["errors"] = listed
    body.update(extra or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {}))

