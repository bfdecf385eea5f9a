"""Sample province dossiers (province-api.md §2) and death notices (§5), used by the province sandbox, demos,
tests and bench.

Every sample is valid against the gateway's rules; tests derive faulty ones by overriding fields.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

_BASE: dict[str, Any] = {
    "MaHoSo": "000.00.12.H56-240115-0001",
    "MaTTHC": "1.001776",
    "TenTTHC": "Thực hiện, điều chỉnh, thôi hưởng trợ cấp xã hội hằng tháng",
    "KenhThucHien": 2,
    "NgayTiepNhan": "20240115083000",
    "NgayHenTra": "20240205170000",
    "MaDonViXuLy": "16171",
    "ChuHoSo": {"HoTen": "Trần Văn Nam", "SoDinhDanh": "038075004321", "SoDienThoai": "0912345678",
                "Email": None},
    "DuLieuToKhai": {
        "HoTen": "Nguyễn Thị Hoa",
        "NgaySinh": "02/03/1941",
        "GioiTinh": 2,
        "SoDinhDanh": "038141001234",
        "MaDanToc": "01",
        "NoiThuongTru": {"MaTinh": "38", "MaXa": "16171", "DiaChiChiTiet": "Thôn 3"},
        "NhomDoiTuong": "NCT_80_KHONG_LUONG",
        "QuanHeVoiChuHoSo": "CON",
    },
    "TaiLieuNop": [
        {"TepDinhKemId": "f1", "TenTepDinhKem": "to-khai-1c.pdf", "MaThanhPhanHoSo": "TK_1C"},
    ],
}

_FUNERAL: dict[str, Any] = {
    **copy.deepcopy(_BASE),
    "MaHoSo": "000.00.12.H56-240120-0007",
    "MaTTHC": "1.001731",
    "TenTTHC": "Hỗ trợ chi phí mai táng cho đối tượng bảo trợ xã hội",
    "NgayTiepNhan": "20240120090000",
    "NgayHenTra": "20240125170000",
    "TaiLieuNop": [
        {"TepDinhKemId": "f1", "TenTepDinhKem": "to-khai-mai-tang.pdf", "MaThanhPhanHoSo": "TK_MAI_TANG"},
        {"TepDinhKemId": "f2", "TenTepDinhKem": "trich-luc-khai-tu.pdf", "MaThanhPhanHoSo": "TRICH_LUC_KHAI_TU"},
    ],
}

_sequence = itertools.count(1)


def sample_dossier(**overrides: Any) -> dict[str, Any]:
    """A valid monthly-allowance dossier (elderly 80+, form 1c); top-level keys may be overridden."""
    dossier = copy.deepcopy(_BASE)
    dossier.update(copy.deepcopy(overrides))
    return dossier


def sample_mismatch_dossier(**overrides: Any) -> dict[str, Any]:
    """A valid monthly-allowance dossier whose birth date (03/03/1941) disagrees with the population
    database's record of its beneficiary (02/03/1941, the population sandbox's seed): held by the gateway's
    identity check with ``SAI_LECH_DAN_CU`` naming ``DuLieuToKhai.NgaySinh``."""
    dossier = sample_dossier(**overrides)
    if "DuLieuToKhai" not in overrides:
        dossier["DuLieuToKhai"]["NgaySinh"] = "03/03/1941"
    return dossier


def sample_funeral_dossier(**overrides: Any) -> dict[str, Any]:
    """A valid funeral-support dossier (declaration + death-certificate extract)."""
    dossier = copy.deepcopy(_FUNERAL)
    dossier.update(copy.deepcopy(overrides))
    return dossier


def numbered_dossier(
    number: int | None = None, *, agency: str = "000.00.12.H56", day: str = "240115"
) -> dict[str, Any]:
    """A valid dossier with a distinct ``MaHoSo`` (``<agency>-<day>-<number:04d>``), for bulk posting."""
    n = next(_sequence) if number is None else number
    return sample_dossier(MaHoSo=f"{agency}-{day}-{n:04d}")


# The §5 example: Nguyễn Thị Hoa (the beneficiary of the dossier samples) died on 28/09/2024, plus the two
# members the ministry needs for the funeral dossier (MaDanToc, NhomDoiTuong: mappings/death_notice.py).
_DEATH_NOTICE: dict[str, Any] = {
    "MaHoSoLienThong": "000.00.12.H56-241002-0007",
    "NgayTiepNhan": "20241002090000",
    "MaDonViXuLy": "16171",
    "NguoiMat": {"HoTen": "Nguyễn Thị Hoa", "SoDinhDanh": "038141001234", "NgaySinh": "02/03/1941",
                 "GioiTinh": 2, "NgayMat": "28/09/2024", "MaDanToc": "01", "NhomDoiTuong": "NCT_80_KHONG_LUONG",
                 "NoiThuongTru": {"MaTinh": "38", "MaXa": "16171", "DiaChiChiTiet": "Thôn 3"}},
    "KhaiTu": {"SoTrichLuc": "123/TLKT-BS", "NgayDangKy": "01/10/2024", "CoQuanDangKy": "UBND xã Ba Đình"},
    "NguoiNhanMaiTang": {"HoTen": "Trần Văn Nam", "SoDinhDanh": "038075004321", "SoDienThoai": "0912345678",
                         "QuanHeVoiNguoiMat": "CON"},
    "TaiLieuNop": [
        {"TepDinhKemId": "k1", "TenTepDinhKem": "trich-luc-khai-tu.pdf", "MaThanhPhanHoSo": "TRICH_LUC_KHAI_TU"},
        {"TepDinhKemId": "k2", "TenTepDinhKem": "to-khai-mai-tang.pdf", "MaThanhPhanHoSo": "TK_MAI_TANG"},
    ],
}

# The deceased of sample_death_notice_of, by a short name: the NguoiMat members that differ from Hoa's,
# and the notice's own code. "lan" is in the population sandbox's seed (born 1930, year only); "thanh" is
# recorded dead there; "binh" is known to no sandbox (not a beneficiary: KHONG_CO_TRO_CAP).
DECEASED: dict[str, dict[str, Any]] = {
    "hoa": {"code": "000.00.12.H56-241002-0007", "NguoiMat": {}},
    "lan": {"code": "000.00.12.H56-241002-0008",
            "NguoiMat": {"HoTen": "Phạm Thị Lan", "SoDinhDanh": "038130005678", "NgaySinh": "1930", "GioiTinh": 2}},
    "thanh": {"code": "000.00.12.H56-241002-0009",
              "NguoiMat": {"HoTen": "Lê Văn Thành", "SoDinhDanh": "038038002468", "NgaySinh": "15/07/1938",
                           "GioiTinh": 1}},
    "binh": {"code": "000.00.12.H56-241002-0010",
             "NguoiMat": {"HoTen": "Hoàng Văn Bình", "SoDinhDanh": "038045006789", "NgaySinh": "10/05/1945",
                          "GioiTinh": 1, "NhomDoiTuong": None}},
}


def sample_death_notice(**overrides: Any) -> dict[str, Any]:
    """A valid death notice (province-api.md §5: Nguyễn Thị Hoa); top-level keys may be overridden."""
    notice = copy.deepcopy(_DEATH_NOTICE)
    notice.update(copy.deepcopy(overrides))
    return notice


def sample_death_notice_of(person: str, **overrides: Any) -> dict[str, Any]:
    """A valid death notice for one of :data:`DECEASED` (``"hoa"``, ``"lan"``, ``"thanh"``, ``"binh"``), with its
    own ``MaHoSoLienThong``; top-level keys may be overridden. A member set to None in the table is left out."""
    known = DECEASED[person]
    notice = sample_death_notice(MaHoSoLienThong=known["code"])
    for key, value in known["NguoiMat"].items():
        if value is None:
            notice["NguoiMat"].pop(key, None)
        else:
            notice["NguoiMat"][key] = value
    notice.update(copy.deepcopy(overrides))
    return notice


def sample_pdf_bytes(text: str = "Tờ khai") -> bytes:
    """A small, well-formed one-page PDF showing ``text`` (ASCII-folded), distinct per text."""
    safe = text.encode("ascii", "replace").decode().replace("\\", "/").replace("(", "[").replace(")", "]")
    stream = f"BT /F1 12 Tf 72 720 Td ({safe}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return pdf_from_objects(objects)


def pdf_from_objects(objects: list[bytes], *, comment: bytes = b"") -> bytes:
    """A well-formed PDF of ``objects`` (numbered from 1, the first the catalog) with its xref table;
    ``comment`` goes in a ``%`` line after the header."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + (b"% " + comment + b"\n" if comment else b""))
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
