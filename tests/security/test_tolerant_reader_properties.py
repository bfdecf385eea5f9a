"""Property: the tolerant reader (issue 14, item 3). Spelling a number as a string of digits (with
surrounding whitespace), writing a code as a JSON number, padding a string with whitespace and adding
unknown members at any level never change the outcome of parsing a dossier (or a death notice), valid or
invalid: the same domain object, or exactly the same field errors (paths, codes and messages).
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from adapters.province.samples import DECEASED, sample_death_notice_of, sample_dossier, sample_funeral_dossier
from mappings.death_notice import parse_death_notice
from mappings.model import AttachmentFacts
from mappings.province import parse_dossier
from tests.security.test_mapping_properties import TODAY, json_values, mutated_samples
from tests.unit.mappings.helpers import attachments_for

FAST = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# The contract's field names (province-api.md §2), written out here rather than taken from the parser,
# so that a field the parser forgot to list shows up as a failure. Levels: () is the dossier itself,
# ("TaiLieuNop", "*") each document.
KNOWN: dict[tuple[str, ...], set[str]] = {
    (): {"MaHoSo", "MaTTHC", "TenTTHC", "KenhThucHien", "NgayTiepNhan", "NgayHenTra", "MaDonViXuLy", "ChuHoSo",
         "DuLieuToKhai", "TaiLieuNop"},
    ("ChuHoSo",): {"HoTen", "SoDinhDanh", "SoDienThoai", "Email"},
    ("DuLieuToKhai",): {"HoTen", "NgaySinh", "GioiTinh", "SoDinhDanh", "MaDanToc", "NoiThuongTru", "NhomDoiTuong",
                        "QuanHeVoiChuHoSo"},
    ("DuLieuToKhai", "NoiThuongTru"): {"MaTinh", "MaXa", "DiaChiChiTiet"},
    ("TaiLieuNop", "*"): {"TepDinhKemId", "TenTepDinhKem", "MaThanhPhanHoSo", "MaBam"},
}
INTEGER_FIELDS = {("KenhThucHien",), ("DuLieuToKhai", "GioiTinh")}  # read as numbers: int or "digits"
CODE_FIELDS = {("NgayTiepNhan",), ("NgayHenTra",), ("MaDonViXuLy",), ("DuLieuToKhai", "MaDanToc"),
               ("DuLieuToKhai", "NoiThuongTru", "MaTinh"), ("DuLieuToKhai", "NoiThuongTru", "MaXa"),
               ("TaiLieuNop", "*", "TepDinhKemId")}  # read as strings: "digits" or int
TEXT_FIELDS = {(*level, key) for level, keys in KNOWN.items() for key in keys} - INTEGER_FIELDS - CODE_FIELDS - {
    ("ChuHoSo",), ("DuLieuToKhai",), ("TaiLieuNop",), ("DuLieuToKhai", "NoiThuongTru")}

WHITESPACE = st.text(alphabet=" \t\r\n\u00a0\u3000", max_size=3)

# Values that make a sample invalid, or keep it valid in another spelling, per field.
REPLACEMENTS: dict[tuple[str, ...], list[Any]] = {
    ("KenhThucHien",): [1, 2, 3, 0, 4, 99, -1, 10**20, None, True, 2.0, "nam"],
    ("DuLieuToKhai", "GioiTinh"): [1, 2, 0, 3, -2, 10**25, None, False, "nữ", 1.5],
    ("DuLieuToKhai", "MaDanToc"): [1, 9, 54, 55, 0, "01", "99", True, None],
    ("DuLieuToKhai", "NoiThuongTru", "MaTinh"): [38, 1, 2, 8, 99, -38, "38", None],
    ("DuLieuToKhai", "NoiThuongTru", "MaXa"): [16171, 2269, 4, 99999, "16171", None],
    ("MaDonViXuLy",): [16171, 0, 10**70, "16171", None, {}],
    ("NgayTiepNhan",): [20240115083000, 20241315083000, 20230101000000, 2024, None],
    ("NgayHenTra",): [20240205170000, 20240101000000, 2024011508300, None],
    ("DuLieuToKhai", "SoDinhDanh"): ["038141001234", "038241001234", "038141", "999141001234", 38141001234],
    ("DuLieuToKhai", "NgaySinh"): ["02/03/1941", "1941", "31/02/1941", "02/03/1942", 1941],
    ("MaHoSo",): ["000.00.12.H56-240115-0001", "sai mã", 1, None],
    ("MaTTHC",): ["1.001776", "2.000744", "9.999999", 1.001776],
    ("TaiLieuNop", 0, "TepDinhKemId"): ["f1", 1, 7, "f2", None, True],
    ("TaiLieuNop", 0, "MaThanhPhanHoSo"): ["TK_1C", "TK_1D", "TK_MAI_TANG", "X"],
    ("DuLieuToKhai", "NhomDoiTuong"): ["NCT_80_KHONG_LUONG", "NKT_NANG", "KHONG_CO"],
}


def _get(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        document = document[step]
    return document


@st.composite
def field_mutations(draw: st.DrawFn) -> Any:
    """A sample with a few known fields replaced by realistic right or wrong values (numbers included)."""
    document = copy.deepcopy(draw(st.sampled_from([sample_dossier(), sample_funeral_dossier()])))
    for path in draw(st.lists(st.sampled_from(sorted(REPLACEMENTS, key=str)), max_size=4, unique=True)):
        parent = _get(document, path)
        if draw(st.integers(0, 9)) == 0:
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = draw(st.sampled_from(REPLACEMENTS[path]))
    return document


def _objects(document: Any) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """Every object of the document the parser reads, with its level in :data:`KNOWN`."""
    if not isinstance(document, dict):
        return []
    found: list[tuple[tuple[str, ...], dict[str, Any]]] = [((), document)]
    for key in ("ChuHoSo", "DuLieuToKhai"):
        if isinstance(document.get(key), dict):
            found.append(((key,), document[key]))
    declaration = document.get("DuLieuToKhai")
    if isinstance(declaration, dict) and isinstance(declaration.get("NoiThuongTru"), dict):
        found.append((("DuLieuToKhai", "NoiThuongTru"), declaration["NoiThuongTru"]))
    if isinstance(document.get("TaiLieuNop"), list):
        found += [(("TaiLieuNop", "*"), item) for item in document["TaiLieuNop"] if isinstance(item, dict)]
    return found


@st.composite
def respelled(draw: st.DrawFn, document: Any) -> Any:
    """``document`` as another export might spell it: the same content for a tolerant reader."""
    out = copy.deepcopy(document)
    for level, obj in _objects(out):
        for key in list(obj):
            field, value = (*level, key), obj[key]
            # "-2" is no string of digits, so only a number >= 0 is a digit string for an integer field.
            numeric = type(value) is int and (field in CODE_FIELDS or (field in INTEGER_FIELDS and value >= 0))
            if numeric and draw(st.booleans()):
                obj[key] = draw(WHITESPACE) + str(value) + draw(WHITESPACE)
            elif field in CODE_FIELDS and isinstance(value, str) and value.isascii() and value.isdigit() \
                    and not value.startswith("0") and draw(st.booleans()):
                obj[key] = int(value)  # the other way round: a code written as a JSON number
            elif (field in TEXT_FIELDS or field in CODE_FIELDS) and isinstance(value, str) and draw(st.booleans()):
                obj[key] = draw(WHITESPACE) + value + draw(WHITESPACE)
        unknown = st.text(min_size=1, max_size=12).filter(lambda k, known=KNOWN[level]: k not in known)
        extra = draw(st.dictionaries(unknown | st.sampled_from(sorted({k for ks in KNOWN.values() for k in ks}
                                                                       - KNOWN[level])),
                                     json_values, max_size=3))
        obj.update(extra)
    return out


def outcome(raw: Any, attachments: dict[str, AttachmentFacts]) -> Any:
    return parse_dossier(raw, attachments, today=TODAY)


def check(draw: st.DrawFn, document: Any) -> bool:
    """The property for one document; returns whether it was valid."""
    attachments = attachments_for(document)  # the files the province sent, whatever it calls them
    before = copy.deepcopy(document)
    expected = outcome(document, attachments)
    other = draw(respelled(document))
    assert outcome(other, attachments) == expected, other
    assert document == before
    valid = expected[0] is not None
    event("valid" if valid else "invalid")
    return valid


@FAST
@given(data=st.data())
def test_respelling_a_valid_dossier_keeps_the_same_dossier(data: st.DataObject) -> None:
    document = copy.deepcopy(data.draw(st.sampled_from([sample_dossier(), sample_funeral_dossier()])))
    for path, value in ((("KenhThucHien",), data.draw(st.sampled_from([1, 2, 3, "1", " 3"]))),
                        (("DuLieuToKhai", "MaDanToc"), data.draw(st.sampled_from([1, "01", "1"]))),
                        (("DuLieuToKhai", "NoiThuongTru", "MaTinh"), data.draw(st.sampled_from([38, "38", "02"])))):
        _get(document, path)[path[-1]] = value
    if document["DuLieuToKhai"]["NoiThuongTru"]["MaTinh"] == "02":
        document["DuLieuToKhai"]["NoiThuongTru"]["MaXa"] = "00703"  # 2024: Hà Giang, Xã Kim Thạch; translated
    assert check(data.draw, document)


@FAST
@given(data=st.data(), document=field_mutations())
def test_respelling_a_dossier_with_wrong_or_right_fields_keeps_the_outcome(data: st.DataObject, document: Any) -> None:
    check(data.draw, document)


@FAST
@given(data=st.data(), document=mutated_samples())
def test_respelling_an_arbitrarily_mutated_dossier_keeps_the_outcome(data: st.DataObject, document: Any) -> None:
    check(data.draw, document)


def test_the_strategies_give_invalid_dossiers_too() -> None:
    """A guard on the generator: the replacements do make dossiers invalid (not only respell them)."""
    raw = sample_dossier()
    raw["DuLieuToKhai"]["GioiTinh"] = 1
    assert outcome(raw, attachments_for(raw))[1]


# --- the death notice (province-api.md §5): the same tolerances through NOTICE_SHAPE ------------------

NOTICE_TODAY = date(2026, 6, 1)
NOTICE_INTEGERS = {"NguoiMat.GioiTinh"}
NOTICE_CODES = {"NgayTiepNhan", "MaDonViXuLy", "NguoiMat.MaDanToc", "NguoiMat.NoiThuongTru.MaTinh",
                "NguoiMat.NoiThuongTru.MaXa", "KhaiTu.SoTrichLuc", "TaiLieuNop[].TepDinhKemId"}
NOTICE_REPLACEMENTS: dict[tuple[Any, ...], list[Any]] = {
    ("NguoiMat", "GioiTinh"): [1, 2, 3, None, True, "nữ"],
    ("NguoiMat", "MaDanToc"): [1, 9, 55, "01", None],
    ("NguoiMat", "NgayMat"): ["28/09/2024", "03/10/2024", "31/02/2024", "1940", 2024, None],
    ("NguoiMat", "NoiThuongTru", "MaXa"): [16171, 16096, 99999, "16171", None],
    ("NgayTiepNhan",): [20241002090000, 20260115090000, 2024, None],
    ("MaDonViXuLy",): [16171, 16096, "000.00.12.H56", None],
    ("KhaiTu", "NgayDangKy"): ["01/10/2024", "05/10/2024", "1/10/2024", None],
    ("KhaiTu", "SoTrichLuc"): [123, "123/TLKT-BS", True, None],
    ("TaiLieuNop", 1, "MaThanhPhanHoSo"): ["TK_MAI_TANG", "TK_1C", "X"],
}


@st.composite
def notices(draw: st.DrawFn) -> Any:
    """A sample notice with a few fields replaced by right or wrong values."""
    document = sample_death_notice_of(draw(st.sampled_from(sorted(DECEASED))))
    for path in draw(st.lists(st.sampled_from(sorted(NOTICE_REPLACEMENTS, key=str)), max_size=3, unique=True)):
        _get(document, path)[path[-1]] = draw(st.sampled_from(NOTICE_REPLACEMENTS[path]))
    return document


@st.composite
def respelled_notice(draw: st.DrawFn, document: Any) -> Any:
    """``document`` spelled another way, driven by the notice's field paths; unknown members added."""

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, dict):
            out = {key: walk(sub, f"{path}.{key}" if path else key) for key, sub in value.items()}
            extra = st.text(min_size=1, max_size=8).filter(lambda k, known=set(value): k not in known)
            out.update(draw(st.dictionaries(extra, json_values, max_size=2)))
            return out
        if isinstance(value, list):
            return [walk(item, f"{path}[]") for item in value]
        numeric = type(value) is int and (path in NOTICE_CODES or (path in NOTICE_INTEGERS and value >= 0))
        if numeric and draw(st.booleans()):
            return draw(WHITESPACE) + str(value) + draw(WHITESPACE)
        if isinstance(value, str) and path in NOTICE_CODES and value.isascii() and value.isdigit() \
                and not value.startswith("0") and draw(st.booleans()):
            return int(value)
        if isinstance(value, str) and draw(st.booleans()):
            return draw(WHITESPACE) + value + draw(WHITESPACE)
        return value

    return walk(copy.deepcopy(document), "")


@FAST
@given(data=st.data(), document=notices())
def test_respelling_a_death_notice_keeps_the_outcome(data: st.DataObject, document: Any) -> None:
    attachments = attachments_for(document)
    before = copy.deepcopy(document)
    expected = parse_death_notice(document, attachments, today=NOTICE_TODAY)
    other = data.draw(respelled_notice(document))
    assert parse_death_notice(other, attachments, today=NOTICE_TODAY) == expected, other
    assert document == before
    event("valid" if expected[0] is not None else "invalid")
