"""Structured logs (structlog, JSON by default) with a request id and personal data masked.

Masking is a processor in the chain every line goes through, stdlib loggers (uvicorn, sqlalchemy)
included: values under personal keys are masked whole, and ID-number, phone and date shapes are
masked inside any string, so a careless call site cannot leak them.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

PERSONAL_KEYS = frozenset(
    k.lower()
    for k in (
        "HoTen", "SoDinhDanh", "NgaySinh", "SoDienThoai", "Email", "DiaChiChiTiet",
        "hoTen", "soDinhDanh", "ngaySinh", "soDienThoai",
        "full_name", "name", "personal_id", "birth_date", "phone", "email", "address",
    )
)
SECRET_KEYS = frozenset({"authorization", "api_key", "client_secret", "access_token", "secret", "password"})
# Any field whose name contains one of these is a secret too (callback_secret, session_secret, x_api_key…).
SECRET_KEY_PARTS = ("secret", "password", "api_key", "apikey", "authorization", "access_token", "refresh_token")

# 9–12 digit runs (ID numbers, old 9-digit IDs, phone numbers), +84 phones, and calendar dates.
_DIGITS = re.compile(r"(?<!\d)(?:\+?84|0)?\d{8,11}(?!\d)")
_DATE = re.compile(
    r"(?<!\d)(?:\d{1,2}[/-])?(?:\d{1,2}[/-])(?:19|20)\d{2}(?!\d)"
    r"|(?<!\d)(?:19|20)\d{2}-\d{2}-\d{2}(?!\d)"
)


CHATTY_LOGGERS = (
    "httpx", "httpcore", "aiohttp", "aiohttp.access", "aiohttp.client", "hpack",
    # One ``ministry_call`` line per exchange (each change-feed poll, token, upload, create): at INFO
    # the delivery and reconcile lines say what happened; failed calls are WARNING and still shown.
    "adapters.ministry.client",
    "adapters.population.client",  # one ``population_call`` line per exchange, likewise
    # uvicorn's request lines (``gateway serve`` has its own ``http_request`` line; the sandboxes none).
    "uvicorn.access",
)
"""Loggers that speak per HTTP exchange: WARNING unless the level is DEBUG."""


def mask_text(value: str) -> str:
    """Mask ID numbers, phone numbers and dates inside free text."""
    value = _DIGITS.sub(lambda m: m.group(0)[:3] + "*" * (len(m.group(0)) - 5) + m.group(0)[-2:], value)
    return _DATE.sub("**/**/****", value)


def _mask_value(key: str, value: Any) -> Any:
    lowered = key.lower()
    if lowered in SECRET_KEYS or any(part in lowered for part in SECRET_KEY_PARTS):
        return "***"
    if lowered in PERSONAL_KEYS:
        return "***" if value not in (None, "") else value
    return _mask_any(value)


def _mask_any(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {k: _mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_any(v) for v in value]
    return value


def mask_personal_data(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask personal data and secrets in every field of a line."""
    for key in list(event_dict):
        if key in ("timestamp", "level", "logger", "request_id"):
            continue
        event_dict[key] = _mask_value(key, event_dict[key])
    return event_dict


def configure_logging(fmt: str = "json", level: str = "INFO") -> None:
    """Route structlog and stdlib logging through one masked renderer on stderr."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        mask_personal_data,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,  # so that reconfiguring (tests, CLI) reaches every logger
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Alembic narrates every migration-state check (readiness probes make one per call).
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
    # Quiet by default: at INFO an operator sees one line per thing that happened (dossier received,
    # delivered, status changed, callback sent, failure, admin action), not one per HTTP exchange.
    # Below INFO (DEBUG) every exchange shows again.
    chatty = logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(chatty)


class _StderrHandler(logging.StreamHandler):
    """A stream handler writing to ``sys.stderr`` as it is when a line is written, not as it was when logging was
    configured: a thread that logs after a test's captured stream was closed writes to the real one instead of
    failing with "I/O operation on closed file"."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass  # StreamHandler.__init__ and setStream assign it; the stream is always the current sys.stderr
