"""Posting sample dossiers (province-api.md §2) and death notices (§5) to the gateway, as the province's
one-stop system would."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx

from adapters.province.client import Encoding, post_death_notice, post_dossier
from adapters.province.samples import (
    DECEASED,
    sample_death_notice_of,
    sample_dossier,
    sample_funeral_dossier,
    sample_mismatch_dossier,
    sample_pdf_bytes,
)
from adapters.province.sandbox.state import SandboxState
from adapters.province.sandbox.store import PostedDossier

Procedure = Literal["allowance", "funeral", "mismatch", "death_notice"]
# "mismatch": a monthly-allowance sample whose birth date the population database disagrees with.
PROCEDURES: dict[str, Callable[..., dict[str, Any]]] = {"allowance": sample_dossier, "funeral": sample_funeral_dossier,
                                                      "mismatch": sample_mismatch_dossier}
# A death notice of the linked procedure (§5), posted to /api/v1/death-notices; "person" picks the deceased.
DEATH_NOTICE = "death_notice"
CHOICES: tuple[str, ...] = (*PROCEDURES, DEATH_NOTICE)
PEOPLE: tuple[str, ...] = tuple(DECEASED)
ENCODINGS: tuple[Encoding, ...] = ("multipart", "json")
AGENCY = "000.00.12.H56"

log = logging.getLogger("adapters.province.sandbox")


class _CodeClock:
    """The last code number handed out per day, so two posts in one millisecond still differ."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.day = ""
        self.last = -1


_codes = _CodeClock()


def fresh_code(now: datetime) -> str:
    """A MaHoSo not used before by this process: ``<agency>-<yymmdd>-<milliseconds of the day, 8 digits>``.

    Clock-derived so that a restarted sandbox does not reuse the codes it posted before (the
    gateway keeps them); bumped by one when two posts fall in the same millisecond.
    """
    day = now.strftime("%y%m%d")
    millis = ((now.hour * 60 + now.minute) * 60 + now.second) * 1000 + now.microsecond // 1000
    with _codes.lock:
        if day == _codes.day and millis <= _codes.last:
            millis = _codes.last + 1
        _codes.day, _codes.last = day, millis
    return f"{AGENCY}-{day}-{millis:08d}"


def build_sample(procedure: str, ma_ho_so: str, now: datetime) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A valid sample dossier received ``now`` (due as far ahead as in the sample), and its PDF files."""
    dossier = PROCEDURES[procedure](MaHoSo=ma_ho_so)
    received = datetime.strptime(dossier["NgayTiepNhan"], "%Y%m%d%H%M%S")
    due = datetime.strptime(dossier["NgayHenTra"], "%Y%m%d%H%M%S")
    local = now.replace(tzinfo=None, microsecond=0)
    dossier["NgayTiepNhan"] = local.strftime("%Y%m%d%H%M%S")
    dossier["NgayHenTra"] = (local + timedelta(seconds=(due - received).total_seconds())).strftime("%Y%m%d%H%M%S")
    return dossier, _files(dossier, ma_ho_so)


def build_death_notice(person: str, code: str, now: datetime) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A valid death notice of ``person`` (a key of ``DECEASED``) received ``now``, its death and registration
    as many days before as in the sample, and its PDF files."""
    notice = sample_death_notice_of(person, MaHoSoLienThong=code)
    received = datetime.strptime(notice["NgayTiepNhan"], "%Y%m%d%H%M%S")
    local = now.replace(tzinfo=None, microsecond=0)
    notice["NgayTiepNhan"] = local.strftime("%Y%m%d%H%M%S")
    for parent, key in ((notice["NguoiMat"], "NgayMat"), (notice["KhaiTu"], "NgayDangKy")):
        before = received.date() - datetime.strptime(parent[key], "%d/%m/%Y").date()
        parent[key] = (local.date() - before).strftime("%d/%m/%Y")
    return notice, _files(notice, code)


def _files(document: dict[str, Any], code: str) -> dict[str, bytes]:
    return {item["TepDinhKemId"]: sample_pdf_bytes(f"{code} {item['TenTepDinhKem']}")
            for item in document["TaiLieuNop"]}


def post_sample(
    state: SandboxState,
    *,
    procedure: str = "allowance",
    encoding: Encoding = "multipart",
    ma_ho_so: str | None = None,
    person: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> PostedDossier:
    """Post one sample dossier, or with ``procedure="death_notice"`` a death notice of ``person`` (default
    the §5 example's), to the configured gateway (blocking) and record it with the answer.

    A connection failure or timeout is recorded as ``error`` with no status.
    """
    now = state.now_vn()
    code = ma_ho_so or fresh_code(now)
    post: Callable[..., httpx.Response]
    if procedure == DEATH_NOTICE:
        document, files = build_death_notice(person or PEOPLE[0], code, now)
        post = post_death_notice
    else:
        document, files = build_sample(procedure, code, now)
        post = post_dossier
    posted = state.store.add_posted(code, procedure, encoding, state.stamp())
    config = state.config
    try:
        with httpx.Client(base_url=config.gateway_url, timeout=config.post_timeout_s, transport=transport) as client:
            response = post(client, config.api_key, document, files, encoding=encoding)
    except httpx.HTTPError as exc:
        posted.error = f"{exc.__class__.__name__}: gateway {config.gateway_url} did not answer"
        log.warning("post failed: MaHoSo=%s %s", code, exc.__class__.__name__)
        return posted
    posted.status = response.status_code
    try:
        posted.answer = response.json()
    except ValueError:
        posted.answer = response.text[:2000]
    # The answer may echo refused values (personal data in a 422), so only the code and status are logged.
    log.info("posted MaHoSo=%s procedure=%s encoding=%s: HTTP %s", code, procedure, encoding, response.status_code)
    return posted

