"""Reading a dossier submission off the wire, in either encoding of province-api.md §2.

Files are streamed straight into staged blobs (hashed and size-checked chunk by chunk), so no
attachment is ever held whole in memory. What this module refuses is framing (size, media type,
broken multipart, undecodable JSON, file types by their bytes); the dossier's content is judged by
``mappings.province``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from adapters.province.fetch import URL_FIELD, AttachmentTooLargeError, UrlPolicy, fetch_url_attachments
from gateway.blobs import BlobStore, BlobTooLargeError, StagedBlob, is_storage_full
from gateway.dossiers.filecheck import check_file
from gateway.problems import Problem
from gateway.settings import Settings
from mappings.errors import FieldError
from mappings.model import AttachmentFacts
from mappings.province import respell_file_references
from mappings.tables import error_message

DOSSIER_PART = "hoso"
_MIB = 1024 * 1024


@dataclass
class Submission:
    """A parsed request: the dossier JSON, its received files, and faults found while reading."""

    raw: Any = None
    files: dict[str, StagedBlob] = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)

    def facts(self) -> dict[str, AttachmentFacts]:
        """What was measured of each received file, by ``TepDinhKemId``."""
        return {fid: AttachmentFacts(b.sha256, b.size, b.content_type) for fid, b in self.files.items()}

    def discard(self) -> None:
        """Remove every staged file (on any refusal, or after they were committed)."""
        for blob in self.files.values():
            blob.discard()


async def receive_submission(request: Request, settings: Settings, blobs: BlobStore) -> Submission:
    """Read the whole request; raises :class:`Problem` (400/413/415) and leaves no file behind then."""
    media_type, params = parse_options_header(request.headers.get("content-type", ""))
    _check_declared_length(request, settings)
    submission = Submission()
    stage: Callable[[], None] | None = None  # the JSON encoding's inline files, staged with the rest when it can
    try:
        if media_type == b"multipart/form-data":
            boundary = params.get(b"boundary")
            if not boundary:
                raise Problem(400, "multipart_boundary_missing", "Thiếu tham số boundary của multipart.")
            await _read_multipart(request, boundary, settings, blobs, submission)
        elif media_type == b"application/json" or media_type.endswith(b"+json"):
            body = await _read_limited(request.stream(), settings.max_json_body_bytes)
            submission.raw = respell_file_references(_decode_json(body, "body", settings.max_json_depth))
            stage = functools.partial(_stage_base64_files, submission, settings, blobs)
            if _has_url_attachments(submission.raw):
                await anyio.to_thread.run_sync(stage)
                stage = None
                await _fetch_url_attachments(submission, settings, blobs)
        else:
            raise Problem(415, "unsupported_media_type",
                          "Chỉ nhận application/json hoặc multipart/form-data.")
        # One trip to a worker thread for all the file work left (each trip costs a busy server ~0.15 ms).
        await anyio.to_thread.run_sync(_finish_and_check, submission, settings, stage)
    except OSError as exc:
        submission.discard()
        if is_storage_full(exc):
            raise storage_full() from exc
        raise
    except BaseException:
        submission.discard()
        raise
    return submission


async def _fetch_url_attachments(submission: Submission, settings: Settings, blobs: BlobStore) -> None:
    """The province adapter fetches the files given by URL; a file over a cap is the 413 of an upload."""
    policy = UrlPolicy.from_lists(settings.attachment_url_allowlist, settings.attachment_url_allow_private)
    try:
        await fetch_url_attachments(submission.raw, submission.files, submission.errors, policy=policy,
                                    stage=blobs.stage, max_file_bytes=settings.max_file_bytes,
                                    max_total_bytes=settings.max_total_bytes)
    except AttachmentTooLargeError as exc:
        raise Problem(413, "file_too_large", exc.error.message, errors=[exc.error]) from exc


def storage_full() -> Problem:
    """The 507 answered when the attachment store has no room left (nothing of the request is kept)."""
    return Problem(507, "insufficient_storage",
                   "Kho lưu tệp đính kèm đã đầy; hồ sơ chưa được nhận, vui lòng gửi lại sau.",
                   headers={"Retry-After": "60"})


def _check_declared_length(request: Request, settings: Settings) -> None:
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        return
    limit = max(settings.max_json_body_bytes, settings.max_total_bytes + settings.max_dossier_json_bytes + _MIB)
    if int(declared) > limit:
        raise Problem(413, "body_too_large", f"Yêu cầu vượt quá {limit} byte.")


async def _read_limited(stream: AsyncIterator[bytes], limit: int) -> bytes:
    body = bytearray()
    try:
        async for chunk in stream:
            body += chunk
            if len(body) > limit:
                raise Problem(413, "body_too_large", f"Yêu cầu vượt quá {limit} byte.")
    except ClientDisconnect as exc:
        raise Problem(400, "body_incomplete", "Kết nối bị ngắt trước khi nhận đủ dữ liệu.") from exc
    return bytes(body)


def _decode_json(body: bytes, where: str, max_depth: int) -> Any:
    try:
        value = json.loads(body)
    except RecursionError as exc:  # nested far deeper than any limit: the decoder itself gave up
        raise _too_deep(where, max_depth) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Problem(400, "invalid_json", "Dữ liệu hồ sơ không phải JSON hợp lệ.",
                      errors=[FieldError(where, "invalid_json",
                                         f"JSON không hợp lệ: {exc.__class__.__name__}")]) from exc
    too_deep = _deeper_than(value, max_depth)
    if too_deep is not None:
        raise _too_deep(too_deep if where == "body" else f"{where}.{too_deep}", max_depth)
    return value


def _too_deep(where: str, max_depth: int) -> Problem:
    return Problem(400, "json_too_deep", f"JSON lồng nhau quá {max_depth} cấp.",
                   errors=[FieldError(where, "json_too_deep", f"JSON lồng nhau quá {max_depth} cấp.")])


def _deeper_than(value: Any, max_depth: int) -> str | None:
    """The path of the first array/object nested deeper than ``max_depth`` (the top one is level 1)."""
    stack: list[tuple[Any, str, int]] = [(value, "$", 1)]
    while stack:
        node, path, depth = stack.pop()
        children: list[tuple[str, Any]]
        if isinstance(node, dict):
            children = [(f"{path}.{key}" if path != "$" else str(key), item) for key, item in node.items()]
        elif isinstance(node, list):
            children = [(f"{path}[{index}]", item) for index, item in enumerate(node)]
        else:
            continue
        if depth > max_depth:
            return path
        stack.extend((item, child, depth + 1) for child, item in children if isinstance(item, (dict, list)))
    return None


def _stage_base64_files(submission: Submission, settings: Settings, blobs: BlobStore) -> None:
    raw = submission.raw
    items = raw.get("TaiLieuNop") if isinstance(raw, dict) else None
    if not isinstance(items, list):
        return
    limit = settings.max_base64_file_bytes
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        file_id, content, url = item.get("TepDinhKemId"), item.get("NoiDungBase64"), item.get("DuongDanTaiTepTin")
        where = f"TaiLieuNop[{index}]"
        if url is not None and content is None:
            continue  # fetched afterwards by adapters.province.fetch
        if content is None or not isinstance(file_id, str) or file_id in submission.files:
            continue  # the validator reports missing contents, bad or repeated ids
        if not isinstance(content, str):
            submission.errors.append(FieldError(f"{where}.NoiDungBase64", "invalid_base64",
                                                "NoiDungBase64 phải là chuỗi base64."))
            continue
        if len(content) // 4 * 3 > limit + 3:
            raise Problem(413, "file_too_large", f"Tệp {where} vượt quá {limit} byte sau khi giải mã.",
                          errors=[FieldError(f"{where}.NoiDungBase64", "file_too_large",
                                             f"Tệp vượt quá {limit} byte.")])
        try:
            data = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            submission.errors.append(FieldError(f"{where}.NoiDungBase64", "invalid_base64",
                                                "NoiDungBase64 không phải base64 hợp lệ."))
            continue
        blob = blobs.stage(limit)
        submission.files[file_id] = blob
        try:
            blob.write(data)
        except BlobTooLargeError as exc:
            raise Problem(413, "file_too_large", f"Tệp {where} vượt quá {limit} byte sau khi giải mã.",
                          errors=[FieldError(f"{where}.NoiDungBase64", "file_too_large",
                                             f"Tệp vượt quá {limit} byte.")]) from exc


def _has_url_attachments(raw: Any) -> bool:
    """Whether a JSON dossier names files to fetch (``DuongDanTaiTepTin`` without ``NoiDungBase64``)."""
    items = raw.get("TaiLieuNop") if isinstance(raw, dict) else None
    return isinstance(items, list) and any(
        isinstance(item, dict) and item.get(URL_FIELD) is not None and item.get("NoiDungBase64") is None
        for item in items)


def _finish_and_check(submission: Submission, settings: Settings, stage: Callable[[], None] | None) -> None:
    """Stage what ``stage`` stages (if given), finish every file, then judge them by their bytes."""
    if stage is not None:
        stage()
    _finish_all(submission)
    _check_types(submission, settings)


def _finish_all(submission: Submission) -> None:
    for blob in submission.files.values():
        blob.finish()


def _check_types(submission: Submission, settings: Settings) -> None:
    """Refuse files by their bytes: 415 for a type not accepted, 422 for refused content (filecheck)."""
    positions: dict[str, int] = {}
    raw = submission.raw
    if isinstance(raw, dict) and isinstance(raw.get("TaiLieuNop"), list):
        for index, item in enumerate(raw["TaiLieuNop"]):
            if isinstance(item, dict) and isinstance(item.get("TepDinhKemId"), str):
                positions.setdefault(item["TepDinhKemId"], index)

    def where(fid: str) -> str:
        return f"TaiLieuNop[{positions[fid]}]" if fid in positions else fid

    faults = [
        FieldError(where(fid), "unsupported_file_type",
                   "Tệp không phải PDF, JPEG hoặc PNG (kiểm tra theo nội dung tệp).")
        for fid, blob in submission.files.items()
        if blob.content_type is None
    ]
    if faults:
        raise Problem(415, "unsupported_file_type", "Chỉ nhận tệp PDF, JPEG hoặc PNG.", errors=faults)
    content_faults = []
    for fid, blob in submission.files.items():
        with blob.open_staged() as staged:
            fault = check_file(staged, blob.content_type, refuse_active_pdf=settings.refuse_active_pdf,
                               max_image_pixels=settings.max_image_pixels)
        if fault is not None:
            content_faults.append(FieldError(where(fid), fault.code, error_message(fault.code, file_id=fid,
                                                                                   **fault.params)))
    if content_faults:
        raise Problem(422, "validation_failed", "Tệp đính kèm có nội dung không được nhận.", errors=content_faults)


class _MultipartReader:
    """Callbacks for python-multipart's streaming parser: each part goes to a blob or a small buffer."""

    def __init__(self, settings: Settings, blobs: BlobStore, submission: Submission) -> None:
        self.settings = settings
        self.blobs = blobs
        self.submission = submission
        self.dossier_json: bytearray | None = None
        self.total = 0
        self.parts = 0
        self.ended = False
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._name = ""
        self._blob: StagedBlob | None = None
        self._buffer: bytearray | None = None

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > self.settings.max_parts:
            raise Problem(413, "too_many_parts", f"Quá {self.settings.max_parts} phần trong một yêu cầu multipart.")
        self._headers = {}
        self._blob = None
        self._buffer = None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field = b""
        self._value = b""

    def on_headers_finished(self) -> None:
        disposition, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        if disposition != b"form-data" or not name:
            raise Problem(400, "multipart_part_unnamed", "Mỗi phần multipart phải có Content-Disposition với name.")
        self._name = name
        if name == DOSSIER_PART:
            if self.dossier_json is not None:
                raise Problem(400, "multipart_duplicate_part", "Phần 'hoso' xuất hiện nhiều lần.")
            self.dossier_json = self._buffer = bytearray()
            return
        files = self.submission.files
        if name in files:
            raise Problem(400, "multipart_duplicate_part", f"Tệp '{name}' được gửi nhiều lần.",
                          errors=[FieldError(name, "duplicate_file_part", "Tệp được gửi nhiều lần.")])
        if len(files) >= self.settings.max_attachments:
            raise Problem(413, "too_many_files", f"Quá {self.settings.max_attachments} tệp trong một hồ sơ.")
        self._blob = files[name] = self.blobs.stage(self.settings.max_file_bytes)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        size = end - start
        self.total += size
        if self._buffer is not None:
            if len(self._buffer) + size > self.settings.max_dossier_json_bytes:
                raise Problem(413, "dossier_too_large",
                              f"Phần 'hoso' vượt quá {self.settings.max_dossier_json_bytes} byte.")
            self._buffer += data[start:end]
            return
        if self.total > self.settings.max_total_bytes:
            raise Problem(413, "body_too_large", f"Tổng dung lượng tệp vượt quá {self.settings.max_total_bytes} byte.")
        assert self._blob is not None
        try:
            self._blob.write(data[start:end])
        except BlobTooLargeError as exc:
            raise Problem(413, "file_too_large", f"Tệp '{self._name}' vượt quá {exc.limit} byte.",
                          errors=[FieldError(self._name, "file_too_large", f"Tệp vượt quá {exc.limit} byte.")]) from exc

    def on_part_end(self) -> None:
        self._blob = None
        self._buffer = None

    def on_end(self) -> None:
        self.ended = True


async def _read_multipart(
    request: Request, boundary: bytes, settings: Settings, blobs: BlobStore, submission: Submission
) -> None:
    reader = _MultipartReader(settings, blobs, submission)
    parser = MultipartParser(boundary, reader.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except ClientDisconnect as exc:
        raise Problem(400, "body_incomplete", "Kết nối bị ngắt trước khi nhận đủ dữ liệu.") from exc
    except (Problem, OSError):
        raise  # our refusals, and the blob store's own failures (a full disk is not a malformed body)
    except Exception as exc:  # python-multipart's parse errors
        raise Problem(400, "multipart_malformed", "Dữ liệu multipart không đúng định dạng.") from exc
    if not reader.ended:
        raise Problem(400, "multipart_truncated",
                      "Dữ liệu multipart bị cắt cụt (thiếu ranh giới kết thúc).")
    if reader.dossier_json is None:
        raise Problem(422, "validation_failed", "Thiếu phần 'hoso' chứa dữ liệu hồ sơ.",
                      errors=[FieldError(DOSSIER_PART, "required", "Thiếu phần 'hoso' chứa dữ liệu hồ sơ.")])
    submission.raw = respell_file_references(
        _decode_json(bytes(reader.dossier_json), DOSSIER_PART, settings.max_json_depth))
