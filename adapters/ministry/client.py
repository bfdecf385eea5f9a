"""Async client of the ministry's social-assistance integration API v1.

Every call fails with a MinistryError (transient or permanent, see errors.py) or returns a small
result; retrying is the caller's (the outbox's) business, with the same idempotency key. The one
repeat done here is the contract's: a call refused with 401 is repeated once with a fresh token.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

import httpx
import structlog

from adapters.common.ratebudget import RateBudget, SlotStore, with_headroom
from adapters.common.session import PeerClient, PeerSession, RequestParts, default_outcome, json_parts, static_parts
from adapters.ministry.auth import SCOPE
from adapters.ministry.errors import (
    DOSSIER_EXISTS,
    INVALID_RESPONSE,
    KINDS,
    RATE_LIMITED,
    MinistryError,
    PermanentMinistryError,
    TransientMinistryError,
    classify,
)
from adapters.ministry.filenames import sanitize_filename
from adapters.ministry.models import (
    AllowanceStatus,
    BackPaymentResult,
    BeneficiaryRecord,
    ChangePage,
    CreatedDossier,
    StopResult,
    StoredDossier,
    UploadedFile,
)
from adapters.ministry.transport import DEFAULT_TRANSPORT, TransportName, make_transport

_log = structlog.get_logger(__name__)

UPLOAD_PATH = "/api/v1/tep-tin"
CREATE_PATH = "/api/v1/ho-so/cho-tiep-nhan"
CHANGES_PATH = "/api/v1/ho-so/thay-doi"
DOSSIER_PATH = "/api/v1/ho-so/{id}"
SUPPLEMENT_PATH = "/api/v1/ho-so/{id}/bo-sung"
BENEFICIARIES_PATH = "/api/v1/doi-tuong"
STOP_PATH = "/api/v1/doi-tuong/{id}/thoi-huong"
BACK_PAYMENT_PATH = "/api/v1/chi-tra/truy-linh"
MAX_CHANGES_LIMIT = 500
DEFAULT_RATE_PER_SECOND = 20.0  # contract §7: about 20 requests per second per client, bursts of up to 40
DEFAULT_BURST = 40

# The legacy lookup import: a dossier sent there is only searchable, no officer can receive it.
# No path of this client may contain this segment, whatever the arguments.
_FORBIDDEN_SEGMENT = "tra-cuu"

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_KEY = re.compile(r"[\x21-\x7e]{1,64}")  # visible ASCII: it travels in a header
_PERSONAL_ID = re.compile(r"[0-9]{12}")  # ASCII digits only (str.isdigit() would take fullwidth ones)

__all__ = ["BACK_PAYMENT_PATH", "BENEFICIARIES_PATH", "CHANGES_PATH", "CREATE_PATH", "DOSSIER_PATH", "STOP_PATH",
           "SUPPLEMENT_PATH", "UPLOAD_PATH", "MinistryClient", "RequestParts"]


class MinistryClient(PeerClient):
    """The gateway's client of the ministry API: OAuth token, uploads, dossiers, change feed.

    ``timeout`` (seconds) bounds each of connect, read, write and pool wait. ``transport``
    overrides the one ``transport_name`` would make (tests, benchmarks). ``clock`` is the monotonic
    clock the token cache measures expiry with. ``rate_per_second`` and ``burst`` (the contract's §7:
    20 and 40) pace every authorised call; ``slots`` is where that budget lives (default: this process;
    the gateway passes one its worker processes share), ``max_budget_wait`` how long a call may wait for
    its turn before it is refused as transient (``VUOT_GIOI_HAN``, with the wait). None: unpaced.
    Use as ``async with`` or call ``aclose()``.
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 32,
        clock: Callable[[], float] = time.monotonic,
        transport_name: TransportName = DEFAULT_TRANSPORT,
        rate_per_second: float | None = None,
        burst: int = DEFAULT_BURST,
        slots: SlotStore | None = None,
        max_budget_wait: float = 10.0,
    ) -> None:
        if not base_url.startswith(("https://", "http://")):
            raise ValueError("base_url must be an http(s) URL")
        self.transport_name: TransportName | None = None if transport else transport_name  # None: given one
        self._http = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout),
            transport=transport or make_transport(transport_name, max_connections=max_connections),
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": "sa-gateway ministry-client"},
        )
        self.budget = None if rate_per_second is None else RateBudget(
            rate_per_second, burst=with_headroom(burst), max_wait=max_budget_wait, store=slots, clock=clock,
            exceeded=_over_budget, on_store_error=_budget_store_failed)
        # The token, the ministry's last Retry-After (no call goes out before it, not even the next step of a
        # delivery already under way) and the ``ministry_call`` log line of every exchange.
        self._session = PeerSession(
            self._http,
            client_id=client_id,
            client_secret=client_secret,
            scope=SCOPE,
            kinds=KINDS,
            classify=classify,
            clock=clock,
            logger=_log,
            log_event="ministry_call",
            log_defaults={"idempotency_key": None, "replayed": False},
            answer_fields=_answer_fields,
            outcome=_outcome,
            quiet_outcomes=("ok", "already_existed"),
            check_path=_check_path,
            budget=self.budget,
        )

    # ---- public calls -------------------------------------------------------------------

    async def upload_file(
        self,
        *,
        filename: str,
        content_type: str,
        component_code: str,
        sha256: str,
        idempotency_key: str,
        path: Path | None = None,
        opened: BinaryIO | None = None,
        size: int | None = None,
    ) -> UploadedFile:
        """Upload one dossier component, streamed; the file is never loaded whole.

        The bytes are ``opened``: an open binary stream at its start, readable and seekable (a local file, or
        any reader such as the gateway's database-backed attachment stream), which the caller keeps and closes
        (a repeat after a 401 rewinds it); else the file at ``path``, opened here for each attempt. ``size``:
        the stream's length when the caller knows it, else measured (the file's size, or the stream's end). A
        stream that is not an OS file is read in a thread of its own, about 256 KiB per trip, so that the event
        loop never waits on its source; a local file is read inline, from the page cache, as httpx does.

        ``sha256`` is the lowercase hex digest the ministry checks the bytes against. Raises OSError if the
        bytes cannot be read (a local fault, not the ministry's), MinistryError on any failure of the exchange.
        """
        _check_key(idempotency_key)
        if not _SHA256.fullmatch(sha256):
            raise ValueError("sha256 must be 64 hex digits")
        if not component_code:
            raise ValueError("component_code is required")
        if path is None and opened is None:
            raise ValueError("give the bytes as path or opened")
        digest = sha256.lower()
        # Opened (and measured) before anything is sent, in one trip to a thread unless the caller opened
        # it; the first attempt sends it.
        unused: list[BinaryIO] = []
        if opened is None:
            assert path is not None
            file, measured = await asyncio.to_thread(_open_measured, path)
            unused.append(file)
        else:
            measured = size if size is not None else _measure(opened)
        name = sanitize_filename(filename, component_code=component_code, content_type=content_type)
        fields = {"maThanhPhan": component_code, "sha256": digest}
        attempts = 0

        @asynccontextmanager
        async def parts() -> AsyncIterator[dict[str, Any]]:
            # Each attempt sends the bytes from the start: a repeat after a 401 must send them again whole.
            nonlocal attempts
            attempts += 1
            if opened is not None:
                file, ours = opened, False
                if attempts > 1:
                    opened.seek(0)
            else:
                assert path is not None
                file, ours = (unused.pop() if unused else await asyncio.to_thread(path.open, "rb")), True
            try:
                yield _multipart_parts(fields, name, file, content_type)
            finally:
                if ours:
                    file.close()

        try:
            response = await self._send("POST", UPLOAD_PATH, parts=parts, idempotency_key=idempotency_key)
        finally:
            for file in unused:  # not sent at all (held back, or no token)
                file.close()
        if not response.is_success:
            raise classify(response)
        answer = _json_object(response)
        answered_digest = _optional_str(answer, "sha256")
        if answered_digest is not None and answered_digest.lower() != digest:
            # The idempotent replay would return the same answer: retrying cannot fix it.
            raise PermanentMinistryError(
                "the ministry stored a file whose SHA-256 differs from the one sent",
                status=response.status_code,
                code=INVALID_RESPONSE,
            )
        answered_size = answer.get("kichThuoc")
        if not isinstance(answered_size, int) or isinstance(answered_size, bool):
            answered_size = measured
        return UploadedFile(
            id=_required_str(answer, "id", response),
            sha256=digest,
            size=answered_size,
            name=_optional_str(answer, "tenTep") or name,
            content_type=_optional_str(answer, "loaiTep") or content_type,
        )

    async def create_dossier(self, body: dict[str, Any], *, idempotency_key: str) -> CreatedDossier:
        """Create the dossier in the ministry's PENDING-RECEPTION queue (``cho-tiep-nhan``).

        A 409 HO_SO_DA_TON_TAI is not raised: a dossier with this code is there already, ``already_existed``
        is set and ``id`` is the existing one's (whose content the caller compares: :meth:`read_dossier`).
        """
        _check_key(idempotency_key)
        response = await self._send(
            "POST", CREATE_PATH, parts=_json_parts(body), idempotency_key=idempotency_key
        )
        replayed = response.headers.get("Idempotent-Replayed", "").strip().lower() == "true"
        if response.is_success:
            answer = _json_object(response)
            return CreatedDossier(
                id=_required_str(answer, "id", response),
                ma_ho_so=_optional_str(answer, "maHoSoTinh"),
                status=_optional_str(answer, "trangThai"),
                created_at=_optional_datetime(answer, "ngayTao"),
                already_existed=False,
                replayed=replayed,
            )
        error = classify(response)
        if response.status_code == 409 and error.code == DOSSIER_EXISTS:
            answer = _json_object(response)
            existing_id = _optional_str(answer, "id")
            if existing_id is None:
                raise PermanentMinistryError(
                    "the ministry says the dossier exists but did not give its id",
                    status=409,
                    code=DOSSIER_EXISTS,
                )
            sent_code = body.get("maHoSoTinh")
            return CreatedDossier(
                id=existing_id,
                ma_ho_so=_optional_str(answer, "maHoSoTinh")
                or (sent_code if isinstance(sent_code, str) else None),
                status=_optional_str(answer, "trangThai"),
                created_at=_optional_datetime(answer, "ngayTao"),
                already_existed=True,
                replayed=replayed,
            )
        raise error

    async def supplement(
        self, ministry_id: str, body: dict[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]:
        """Add components to a dossier the officer asked more of; returns the dossier as stored.

        Outside ``YEU_CAU_BO_SUNG`` the ministry answers 409 TRANG_THAI_KHONG_PHU_HOP (permanent).
        """
        _check_key(idempotency_key)
        path = SUPPLEMENT_PATH.format(id=_id_segment(ministry_id))
        response = await self._send("POST", path, parts=_json_parts(body), idempotency_key=idempotency_key)
        if not response.is_success:
            raise classify(response)
        return _json_object(response)

    async def get_dossier(self, ministry_id: str) -> dict[str, Any]:
        """The dossier as the ministry stores it, with ``trangThai`` and its history."""
        return _json_object(await self._get_dossier(ministry_id))

    async def read_dossier(self, ministry_id: str) -> StoredDossier:
        """The dossier as the ministry stores it (§5), read for a comparison: its status, its fields, the
        (component, file id) of each of its files. 404 KHONG_TIM_THAY (unknown, or another client's) is
        permanent; components that are not objects with a ``tepTinIds`` list of ids make an unreadable answer."""
        response = await self._get_dossier(ministry_id)
        answer = _json_object(response)
        components = answer.get("thanhPhanHoSo", [])
        if not isinstance(components, list):
            raise _invalid(response, "thanhPhanHoSo is not a list")
        files: list[tuple[str, str]] = []
        for component in components:
            code = component.get("maThanhPhan") if isinstance(component, dict) else None
            ids = component.get("tepTinIds") if isinstance(component, dict) else None
            if not isinstance(code, str) or not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise _invalid(response, "a thanhPhanHoSo entry without maThanhPhan and tepTinIds")
            files.extend((code, file_id) for file_id in ids)
        return StoredDossier(
            id=_optional_str(answer, "id") or ministry_id,
            ma_ho_so=_optional_str(answer, "maHoSoTinh"),
            status=_optional_str(answer, "trangThai"),
            created_at=_optional_datetime(answer, "ngayTao"),
            fields=answer,
            files=tuple(files),
        )

    async def _get_dossier(self, ministry_id: str) -> httpx.Response:
        response = await self._send("GET", DOSSIER_PATH.format(id=_id_segment(ministry_id)))
        if not response.is_success:
            raise classify(response)
        return response

    async def changes(self, after: str | None, limit: int = MAX_CHANGES_LIMIT) -> ChangePage:
        """One page of the change feed after the opaque cursor ``after`` (None: from the start)."""
        if not 1 <= limit <= MAX_CHANGES_LIMIT:
            raise ValueError(f"limit must be within 1..{MAX_CHANGES_LIMIT}")
        params: dict[str, str | int] = {"gioiHan": limit}
        if after is not None:
            params["sau"] = after
        response = await self._send("GET", CHANGES_PATH, parts=_static_parts(params=params))
        if not response.is_success:
            raise classify(response)
        answer = _json_object(response)
        changes = answer.get("thayDoi", [])
        cursor = answer.get("conTro")
        if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
            raise _invalid(response, "thayDoi is not a list of objects")
        if not isinstance(cursor, str) or not cursor:
            raise _invalid(response, "conTro missing")
        return ChangePage(changes=changes, cursor=cursor, more=answer.get("conTiep") is True)

    async def find_beneficiaries(self, personal_id: str) -> list[BeneficiaryRecord]:
        """The people the ministry pays under this ID number (§8); an empty list when it pays nobody.

        The number travels as the ``soDinhDanh`` query parameter; the log line carries the path only.
        Raises ValueError unless ``personal_id`` is 12 ASCII digits.
        """
        if not isinstance(personal_id, str) or not _PERSONAL_ID.fullmatch(personal_id):
            raise ValueError("personal_id must be 12 ASCII digits")
        response = await self._send(
            "GET", BENEFICIARIES_PATH, parts=_static_parts(params={"soDinhDanh": personal_id})
        )
        if not response.is_success:
            raise classify(response)
        found = _json_object(response).get("ketQua")
        if not isinstance(found, list) or not all(isinstance(r, dict) for r in found):
            raise _invalid(response, "ketQua is not a list of objects")
        records = [_beneficiary(r, response) for r in found]
        if any(r.personal_id != personal_id for r in records):
            raise _invalid(response, "a record of another soDinhDanh")
        return records

    async def stop_allowance(self, beneficiary_id: str, body: dict[str, Any], *, idempotency_key: str) -> StopResult:
        """Stop a beneficiary's allowance (``thoi-huong``, §8) with the body as built by the caller
        (``lyDo``, ``ngaySuKien``, ``thangThoiHuong``, ``truyThu`` from ``mappings.money``, ``canCu``, ``ghiChu``).

        A 409 TRANG_THAI_KHONG_PHU_HOP (stopped already from another month) and a 422 SAI_SO_TIEN (the
        recovery disagrees with the ministry's payment record; ``details`` names the months) are permanent.
        """
        _check_key(idempotency_key)
        path = STOP_PATH.format(id=_id_segment(beneficiary_id))
        response = await self._send("POST", path, parts=_json_parts(body), idempotency_key=idempotency_key)
        if not response.is_success:
            raise classify(response)
        answer = _json_object(response)
        recovery = answer.get("truyThu")
        if recovery is not None and not isinstance(recovery, dict):
            raise _invalid(response, "truyThu is not an object")
        return StopResult(
            id=_required_str(answer, "id", response),
            status=_optional_str(answer, "trangThaiHuong") or AllowanceStatus.DA_THOI_HUONG.value,
            stop_month=_required_str(answer, "thangThoiHuong", response),
            recovery=recovery,
            replayed=response.headers.get("Idempotent-Replayed", "").strip().lower() == "true",
        )

    async def send_back_payment(self, body: dict[str, Any], *, idempotency_key: str) -> BackPaymentResult:
        """Send the months owed to a new beneficiary that no payment list carried (``truy-linh``, §9), with the
        body as built by the caller (``doiTuongId``, ``hoSoId``, ``tuThang``, ``denThang``, ``soTien`` and
        ``chiTiet`` from ``mappings.money.span``, ``canCu`` ``{soQuyetDinh, ngayQuyetDinh}``).

        A 422 SAI_SO_TIEN (the months disagree with the ministry's own computation; ``details`` names each),
        a 404 KHONG_TIM_THAY (unknown ``doiTuongId``), a 400 and a 409 are permanent; retry a transient
        failure with the same key.
        """
        _check_key(idempotency_key)
        response = await self._send(
            "POST", BACK_PAYMENT_PATH, parts=_json_parts(body), idempotency_key=idempotency_key
        )
        if not response.is_success:
            raise classify(response)
        answer = _json_object(response)
        return BackPaymentResult(
            id=_required_str(answer, "id", response),
            list_month=_required_str(answer, "thangChiTra", response),
            replayed=response.headers.get("Idempotent-Replayed", "").strip().lower() == "true",
        )

    # ---- exchanges ----------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        parts: RequestParts | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """One authorised call; a 401 is repeated once with a fresh token, a second 401 raises.

        While a Retry-After the ministry gave is running, the call is not sent: it fails at once as
        transient with the remaining wait, so the caller reschedules it after the window.
        """
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else None
        return await self._session.send(
            method, path, parts=parts, headers=headers, log_fields={"idempotency_key": idempotency_key}
        )


# ---- helpers ------------------------------------------------------------------------------


def _over_budget(wait: float) -> MinistryError:
    return TransientMinistryError("holding back: the client-side rate budget is spent", status=None,
                                  code=RATE_LIMITED, retry_after=wait)


def _budget_store_failed(exc: BaseException) -> None:
    _log.warning("rate_budget_unavailable", error_class=exc.__class__.__name__)


def _open_measured(path: Path) -> tuple[BinaryIO, int]:
    """``path`` opened for reading, and its size."""
    file = path.open("rb")
    try:
        return file, os.fstat(file.fileno()).st_size
    except BaseException:
        file.close()
        raise


def _measure(stream: BinaryIO) -> int:
    """The length of a stream at its start: its file's size, or its end's offset (then back to the start)."""
    try:
        return os.fstat(stream.fileno()).st_size
    except (AttributeError, OSError, ValueError):  # not an OS file (io.UnsupportedOperation is both)
        end = stream.seek(0, os.SEEK_END)
        stream.seek(0)
        return end


def _is_os_file(stream: BinaryIO) -> bool:
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


# What one trip to the reading thread reads of a stream that is not an OS file.
THREAD_READ_BYTES = 256 * 1024
# Such streams are read by one thread of their own per process, whatever the number of uploads at once: the
# reads wait on the stream's source (the database), not on each other; and each thread that handles large
# buffers keeps an allocator arena of its own: with the default pool's threads, a 100 MiB upload from the
# database store grew the gateway by ~2.5 MiB more (bench/memory.py).
_stream_reader: list[ThreadPoolExecutor] = []
_stream_reader_lock = threading.Lock()


def _reading_thread() -> ThreadPoolExecutor:
    with _stream_reader_lock:
        if not _stream_reader:
            _stream_reader.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload-stream"))
        return _stream_reader[0]


def _multipart_parts(fields: dict[str, str], name: str, file: BinaryIO, content_type: str) -> dict[str, Any]:
    """The request arguments of one upload: httpx's multipart encoding of ``fields`` and the file part."""
    files = {"tep": (name, file, content_type)}
    if _is_os_file(file):
        return {"data": fields, "files": files}
    # The same encoding, its bytes pulled in a worker thread: reading may wait on the stream's source.
    encoded = httpx.Request("POST", "http://upload.invalid" + UPLOAD_PATH, data=fields, files=files)
    headers = {"Content-Type": encoded.headers["Content-Type"]}
    if "Content-Length" in encoded.headers:
        headers["Content-Length"] = encoded.headers["Content-Length"]
    return {"content": _read_in_thread(encoded.stream), "headers": headers}


async def _read_in_thread(body: Any) -> AsyncIterator[bytes]:
    """``body``'s chunks (a synchronous iterable), read ``THREAD_READ_BYTES`` at a time in the reading thread."""
    chunks = iter(body)

    def gather() -> list[bytes]:
        taken: list[bytes] = []
        total = 0
        for chunk in chunks:
            taken.append(chunk)
            total += len(chunk)
            if total >= THREAD_READ_BYTES:
                break
        return taken

    loop = asyncio.get_running_loop()
    while taken := await loop.run_in_executor(_reading_thread(), gather):
        for chunk in taken:  # as httpx cut them (64 KiB): not joined, one copy fewer
            yield chunk


_static_parts = static_parts
_json_parts = json_parts


def _check_key(key: str) -> None:
    if not _KEY.fullmatch(key):
        raise ValueError("idempotency key must be 1-64 visible ASCII characters")


def _id_segment(ministry_id: str) -> str:
    if not ministry_id or ministry_id in (".", ".."):
        raise ValueError("a ministry id is required")
    return quote(ministry_id, safe="")


def _check_path(path: str) -> None:
    if _FORBIDDEN_SEGMENT in path.split("/"):
        raise ValueError(
            "refusing to call the legacy lookup import (tra-cuu): no officer would receive it"
        )


_common_outcome = default_outcome(classify)


def _outcome(path: str, response: httpx.Response) -> tuple[str, str | None]:
    if response.status_code == 409 and classify(response).code == DOSSIER_EXISTS:
        return "already_existed", DOSSIER_EXISTS
    return _common_outcome(path, response)


def _answer_fields(response: httpx.Response) -> dict[str, Any]:
    return {"replayed": response.headers.get("Idempotent-Replayed", "").strip().lower() == "true"}


def _invalid(response: httpx.Response, what: str) -> MinistryError:
    return TransientMinistryError(
        f"unreadable answer from the ministry: {what}", status=response.status_code, code=INVALID_RESPONSE
    )


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        raise _invalid(response, "not JSON") from None
    if not isinstance(body, dict):
        raise _invalid(response, "not a JSON object")
    return body


def _required_str(answer: Mapping[str, Any], key: str, response: httpx.Response) -> str:
    value = answer.get(key)
    if not isinstance(value, str) or not value:
        raise _invalid(response, f"{key} missing")
    return value


def _optional_str(answer: Mapping[str, Any], key: str) -> str | None:
    value = answer.get(key)
    return value if isinstance(value, str) and value else None


def _beneficiary(record: Mapping[str, Any], response: httpx.Response) -> BeneficiaryRecord:
    """One ``ketQua`` entry; unknown fields are ignored, a missing or mistyped one is an unreadable answer."""
    status = _required_str(record, "trangThaiHuong", response)
    if status not in AllowanceStatus.__members__:
        raise _invalid(response, "trangThaiHuong unknown")
    amount = record.get("mucHuongThang")
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise _invalid(response, "mucHuongThang is not an integer")
    return BeneficiaryRecord(
        id=_required_str(record, "id", response),
        personal_id=_required_str(record, "soDinhDanh", response),
        full_name=_required_str(record, "hoTen", response),
        birth_date=_required_str(record, "ngaySinh", response),
        gender=_required_str(record, "gioiTinh", response),
        group_code=_required_str(record, "nhomDoiTuong", response),
        commune_code=_required_str(record, "maXa", response),
        status=AllowanceStatus(status),
        monthly_amount=amount,
        start_month=_required_str(record, "thangBatDauHuong", response),
        paid_through=_optional_str(record, "daChiTraDenThang"),
        dossier_id=_optional_str(record, "hoSoId"),
    )


def _optional_datetime(answer: Mapping[str, Any], key: str) -> datetime | None:
    value = _optional_str(answer, key)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
