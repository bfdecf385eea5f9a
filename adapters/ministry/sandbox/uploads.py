"""Reading and judging a file upload (contract §4): multipart parts, size, type by the bytes, digest."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from adapters.ministry.sandbox import codes
from adapters.ministry.sandbox.errors import FieldError, SandboxError, invalid

# Room for the multipart framing and the two small text parts around a file at the size limit.
MULTIPART_OVERHEAD = 64 * 1024
MAX_FILENAME_BYTES = 255

_SHA256 = re.compile(r"[0-9a-f]{64}")
_PARTS = ("tep", "maThanhPhan", "sha256")

# Magic numbers of the three accepted types: the bytes decide, not the declared type.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def sniff(data: bytes) -> str | None:
    """The media type the bytes are (PDF, JPEG or PNG), or None."""
    for magic, media_type in _MAGIC:
        if data.startswith(magic):
            return media_type
    return None


def too_large(limit: int) -> SandboxError:
    """413 TEP_QUA_LON."""
    return SandboxError(413, "TEP_QUA_LON", [FieldError("tep", f"Tệp vượt quá {limit} byte")])


@dataclass(frozen=True)
class Upload:
    """The parts of one upload request, read but not yet judged."""

    component_code: str
    declared_sha256: str | None
    filename: str
    declared_type: str | None
    data: bytes

    def identity(self) -> tuple[bytes, ...]:
        """What makes two uploads "the same body" for idempotency (the multipart boundary does not)."""
        return (
            self.component_code.encode(),
            (self.declared_sha256 or "").encode(),
            self.filename.encode(),
            (self.declared_type or "").encode(),
            hashlib.sha256(self.data).digest(),
        )


async def read_upload(request: Request, *, max_file_bytes: int) -> Upload:
    """The parts of a ``multipart/form-data`` upload; 400 for a malformed or unexpected form, 413 if too big."""
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media != "multipart/form-data":
        raise invalid([FieldError("Content-Type", "Nội dung phải là multipart/form-data")])
    cap = max_file_bytes + MULTIPART_OVERHEAD
    declared_length = request.headers.get("content-length")
    if declared_length is not None and declared_length.isdigit() and int(declared_length) > cap:
        raise too_large(max_file_bytes)

    async def capped() -> AsyncGenerator[bytes, None]:
        seen = 0
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > cap:
                raise too_large(max_file_bytes)
            yield chunk

    parser = MultiPartParser(request.headers, capped(), max_files=2, max_fields=4, max_part_size=1024)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise invalid([FieldError("$", f"Nội dung multipart không hợp lệ: {exc.message}")]) from None
    try:
        return await _parts(form.multi_items(), max_file_bytes)
    finally:
        await form.close()


async def _parts(items: list[tuple[str, str | UploadFile]], max_file_bytes: int) -> Upload:
    errors: list[FieldError] = []
    seen: dict[str, int] = {}
    for name, _ in items:
        seen[name] = seen.get(name, 0) + 1
        if name not in _PARTS:
            errors.append(FieldError(name, "Phần không có trong đặc tả"))
    for name, count in seen.items():
        if name in _PARTS and count > 1:
            errors.append(FieldError(name, "Phần bị gửi nhiều lần"))
    values = dict(items)

    upload = values.get("tep")
    if upload is None:
        errors.append(FieldError("tep", "Thiếu tệp"))
    elif not isinstance(upload, UploadFile) or not upload.filename:
        errors.append(FieldError("tep", "Phần tep phải là một tệp có tên tệp"))
    elif len(upload.filename.encode()) > MAX_FILENAME_BYTES:
        errors.append(FieldError("tep", f"Tên tệp dài tối đa {MAX_FILENAME_BYTES} byte"))

    component = values.get("maThanhPhan")
    if component is None:
        errors.append(FieldError("maThanhPhan", "Trường bắt buộc"))
    elif not isinstance(component, str):
        errors.append(FieldError("maThanhPhan", "Phải là chuỗi ký tự"))
    elif component not in codes.COMPONENT_CODES:
        errors.append(FieldError("maThanhPhan", f"Giá trị {component!r} không có trong danh mục thành phần hồ sơ"))

    digest = values.get("sha256")
    if digest is not None and (not isinstance(digest, str) or not _SHA256.fullmatch(digest)):
        errors.append(FieldError("sha256", "Mã băm phải gồm 64 chữ số hex viết thường"))

    if errors:
        raise invalid(errors)
    assert isinstance(upload, UploadFile) and upload.filename and isinstance(component, str)
    if upload.size is not None and upload.size > max_file_bytes:
        raise too_large(max_file_bytes)
    data = await upload.read()
    return Upload(
        component_code=component,
        declared_sha256=digest if isinstance(digest, str) else None,
        filename=upload.filename,
        declared_type=upload.content_type,
        data=data,
    )


def judge(upload: Upload, *, max_file_bytes: int) -> tuple[str, str]:
    """``(media type, sha256)`` of an acceptable upload; raises 413, 415 or 422 SAI_MA_BAM."""
    if len(upload.data) > max_file_bytes:
        raise too_large(max_file_bytes)
    declared = (upload.declared_type or "").split(";")[0].strip().lower()
    actual = sniff(upload.data)
    if actual is None:
        raise SandboxError(
            415, "DINH_DANG_KHONG_HO_TRO", [FieldError("tep", "Chỉ nhận tệp PDF, JPEG hoặc PNG (theo nội dung tệp)")]
        )
    if declared != actual:
        raise SandboxError(
            415,
            "DINH_DANG_KHONG_HO_TRO",
            [FieldError("tep", f"Kiểu khai báo {declared or '(không có)'} không khớp nội dung tệp ({actual})")],
        )
    digest = hashlib.sha256(upload.data).hexdigest()
    if upload.declared_sha256 is not None and upload.declared_sha256 != digest:
        raise SandboxError(422, "SAI_MA_BAM", [FieldError("sha256", "Mã băm không khớp với nội dung tệp")])
    return actual, digest

