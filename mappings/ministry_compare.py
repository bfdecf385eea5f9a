"""What the ministry holds under a ``maHoSoTinh``, compared with the create body the gateway sends (ministry-api §5).

A create answered 409 HO_SO_DA_TON_TAI says only that *a* dossier with this code exists: this revision (our own
earlier attempt, its answer lost), an older revision whose create reached the ministry with its answer lost before
a correction superseded it, or another sender's. ``GET /api/v1/ho-so/{id}`` shows what it holds, and this module
says how that differs from the body of :func:`mappings.ministry.to_ministry_body`:

- the body's fields, field by field, except ``thanhPhanHoSo`` (compared as files) and ``ghiChu`` (the gateway's
  notes to the officer, not the province's content: an identity check's word, a partial birth date's, which
  ``ngaySinh`` says too). A field the ministry leaves out equals one sent as null; fields the ministry adds are
  its own. Times are compared as instants;
- the files, as (component code, SHA-256) pairs counted with repeats: the GET lists file ids only, so each id is
  looked up among the uploads the gateway made for this dossier; an id it never got is a file it cannot name.

The result holds field paths and component codes, never a value: it goes into the dossier's history. Pure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

NOT_COMPARED = frozenset({"thanhPhanHoSo", "ghiChu"})
"""Top-level body fields left out of the field comparison (see the module's docstring)."""

_UNKNOWN = ""  # the digest of a file the gateway cannot name: never equal to a real one

# Where the province wrote what each compared field of the ministry body holds (province-api.md §2), so that its
# officer reads the paths of its own format.
PROVINCE_PATHS: dict[str, str] = {
    "maHoSoTinh": "MaHoSo",
    "maThuTuc": "MaTTHC",
    "ngayNop": "NgayTiepNhan",
    "ngayHenTra": "NgayHenTra",
    "kenhNop": "KenhThucHien",
    "maDonViTiepNhan": "MaDonViXuLy",
    "nguoiNop.hoTen": "ChuHoSo.HoTen",
    "nguoiNop.soDinhDanh": "ChuHoSo.SoDinhDanh",
    "nguoiNop.soDienThoai": "ChuHoSo.SoDienThoai",
    "nguoiNop.quanHeVoiDoiTuong": "DuLieuToKhai.QuanHeVoiChuHoSo",
    "doiTuong.hoTen": "DuLieuToKhai.HoTen",
    "doiTuong.ngaySinh": "DuLieuToKhai.NgaySinh",
    "doiTuong.gioiTinh": "DuLieuToKhai.GioiTinh",
    "doiTuong.soDinhDanh": "DuLieuToKhai.SoDinhDanh",
    "doiTuong.maDanToc": "DuLieuToKhai.MaDanToc",
    "doiTuong.noiThuongTru.maTinh": "DuLieuToKhai.NoiThuongTru.MaTinh",
    "doiTuong.noiThuongTru.maXa": "DuLieuToKhai.NoiThuongTru.MaXa",
    "doiTuong.noiThuongTru.diaChiChiTiet": "DuLieuToKhai.NoiThuongTru.DiaChiChiTiet",
    "doiTuong.nhomDoiTuong": "DuLieuToKhai.NhomDoiTuong",
}


@dataclass(frozen=True)
class Difference:
    """How the ministry's dossier differs from the body sent: names only.

    ``fields``: body field paths (``doiTuong.ngaySinh``); ``missing``: (component, SHA-256) of this revision's files
    the ministry does not hold; ``extra``: component codes of files it holds that this revision does not have;
    ``unidentified``: how many of those the gateway never uploaded (it cannot say what they are).
    """

    fields: tuple[str, ...] = ()
    missing: tuple[tuple[str, str], ...] = ()
    extra: tuple[str, ...] = ()
    unidentified: int = 0

    @property
    def same(self) -> bool:
        """The ministry holds exactly this content."""
        return not (self.fields or self.missing or self.extra)

    @property
    def only_missing_files(self) -> bool:
        """The ministry lacks some of this revision's files and nothing else differs: what a supplement
        (``bo-sung``, which adds components, never changes a field nor removes a file) can make whole."""
        return bool(self.missing) and not self.fields and not self.extra

    def summary(self) -> dict[str, Any]:
        """The comparison for a history event (component codes, not digests)."""
        return {"same": self.same, "fields": list(self.fields),
                "missing": sorted(code for code, _ in self.missing), "extra": list(self.extra),
                "unidentified": self.unidentified}


def compare_with_stored(body: Mapping[str, Any], stored: Mapping[str, Any], ours: Iterable[tuple[str, str]],
                        stored_files: Iterable[tuple[str, str]], known: Mapping[str, str]) -> Difference:
    """How the dossier ``stored`` (the GET's answer) differs from the create ``body`` sent.

    ``ours``: (component, SHA-256) of each file of the revision sent; ``stored_files``: (component, ministry file id)
    of each file the ministry lists, supplements included; ``known``: ministry file id → SHA-256 of every upload the
    gateway made for this dossier, whichever revision.
    """
    fields: list[str] = []
    for key in sorted(body):
        if key not in NOT_COMPARED:
            _diff(body[key], stored.get(key), key, fields)
    held = Counter((code, known.get(file_id, _UNKNOWN)) for code, file_id in stored_files)
    wanted = Counter(ours)
    missing = wanted - held
    extra = held - wanted
    return Difference(
        fields=tuple(fields),
        missing=tuple(sorted(missing.elements())),
        extra=tuple(sorted(code for code, _ in extra.elements())),
        unidentified=sum(n for (_, digest), n in extra.items() if digest == _UNKNOWN),
    )


def province_path(path: str) -> str:
    """The province's name of a ministry body field path (``DuLieuToKhai.HoTen``); the path itself if unknown."""
    return PROVINCE_PATHS.get(path, path)


def _diff(sent: Any, held: Any, path: str, out: list[str]) -> None:
    if isinstance(sent, Mapping):
        if not isinstance(held, Mapping):
            if held is not None or any(v is not None for v in sent.values()):
                out.append(path)
            return
        for key in sorted(sent):
            _diff(sent[key], held.get(key), f"{path}.{key}", out)
        return
    if isinstance(sent, list):
        if not isinstance(held, list) or len(held) != len(sent):
            out.append(path)
            return
        for i, (a, b) in enumerate(zip(sent, held, strict=True)):
            _diff(a, b, f"{path}[{i}]", out)
        return
    if not _same_value(sent, held):
        out.append(path)


def _same_value(sent: Any, held: Any) -> bool:
    if sent == held and type(sent) is type(held):
        return True
    if isinstance(sent, str) and isinstance(held, str):
        a, b = _instant(sent), _instant(held)
        return a is not None and a == b
    return False


def _instant(text: str) -> datetime | None:
    """``text`` as an aware instant if it is an ISO 8601 time with an offset (a date alone is not one)."""
    if "T" not in text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
