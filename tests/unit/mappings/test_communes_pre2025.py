"""Pre-2025 communes and the post-2025 commune(s) each became part of (communes_pre2025_to_new.csv).

The expected pairs below were read from vietnamadminunits 1.0.4's data/converter_2025.json
(old "province_district_ward" key -> new ward key), not from the generated file.
"""

from __future__ import annotations

from collections import Counter
from importlib import resources
from importlib.util import find_spec

import pytest

from mappings import admin_units
from mappings._data import read_csv
from mappings.admin_units import commune, new_communes_for_old, old_commune, translate_unit
from mappings.tables import pre2025_province


def _pairs(code: str) -> list[tuple[str, str, bool]]:
    return [(c.code, c.name, c.is_default) for c in new_communes_for_old(code)]


# (old code, old name, old district, old province) -> (new code, new name, new province): not split.
NOT_SPLIT = [
    # Thanh Hóa: the DOMAIN example; 16171 is also the code in force of Xã Ba Đình.
    (("16171", "Xã Nga Trường", "Huyện Nga Sơn", "38"), ("16171", "Xã Ba Đình", "38")),
    (("16105", "Xã Nga Thiện", "Huyện Nga Sơn", "38"), ("16171", "Xã Ba Đình", "38")),
    # Phú Thọ (with Vĩnh Phúc and Hòa Bình merged into it).
    (("07888", "Phường Dữu Lâu", "Thành phố Việt Trì", "25"), ("07900", "Phường Việt Trì", "25")),
    (("07894", "Phường Nông Trang", "Thành phố Việt Trì", "25"), ("07894", "Phường Nông Trang", "25")),
    (("08710", "Phường Liên Bảo", "Thành phố Vĩnh Yên", "26"), ("08716", "Phường Vĩnh Phúc", "25")),
    (("04789", "Phường Thái Bình", "Thành phố Hòa Bình", "17"), ("04828", "Phường Thống Nhất", "25")),
    # Tuyên Quang (with Hà Giang merged into it).
    (("02200", "Phường Phan Thiết", "Thành phố Tuyên Quang", "08"), ("02215", "Phường Minh Xuân", "08")),
    (("00691", "Phường Trần Phú", "Thành phố Hà Giang", "02"), ("00691", "Phường Hà Giang 2", "08")),
    # Khánh Hòa (with Ninh Thuận merged into it).
    (("22327", "Phường Vĩnh Hòa", "Thành phố Nha Trang", "56"), ("22333", "Phường Bắc Nha Trang", "56")),
    (("22741", "Phường Phước Mỹ", "Thành phố Phan Rang - Tháp Chàm", "58"), ("22741", "Phường Bảo An", "56")),
    # Sơn La: old 03646 and 03649 both became 03646 (Phường Tô Hiệu), a reused code.
    (("03646", "Phường Chiềng Lề", "Thành phố Sơn La", "14"), ("03646", "Phường Tô Hiệu", "14")),
    (("03649", "Phường Tô Hiệu", "Thành phố Sơn La", "14"), ("03646", "Phường Tô Hiệu", "14")),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new"), NOT_SPLIT, ids=[o[1] for o, _ in NOT_SPLIT])
def test_old_commune_becomes_one_new_commune(old: tuple[str, str, str, str], new: tuple[str, str, str]) -> None:
    found = old_commune(old[0])
    assert found is not None
    assert (found.code, found.name, found.district, found.province_code) == old
    candidates = new_communes_for_old(old[0])
    assert [(c.code, c.name, c.province_code, c.is_default) for c in candidates] == [(*new, True)]
    in_force = commune(new[0])
    assert in_force is not None and (in_force.name, in_force.province_code) == new[1:]


# Split communes: every candidate, and the library's default.
SPLIT = [
    ("14758", "Phường Đông Thọ", "38", [("14758", "Phường Hàm Rồng", False), ("14797", "Phường Hạc Thành", True)]),
    ("15328", "Xã Hà Bình", "38", [("15271", "Xã Hà Trung", False), ("15286", "Xã Hoạt Giang", True)]),
    ("02494", "Xã Thái Bình", "08", [("02212", "Phường Nông Tiến", False), ("02494", "Xã Thái Bình", True)]),
    ("02497", "Xã Kim Phú", "08", [("02215", "Phường Minh Xuân", False), ("02509", "Phường Mỹ Lâm", True)]),
    ("22435", "Xã Cam Tân", "56",
     [("22435", "Xã Cam Hiệp", False), ("22453", "Xã Cam Lâm", False), ("22708", "Xã Suối Dầu", True)]),
    ("22438", "Xã Cam Hòa", "56",
     [("22435", "Xã Cam Hiệp", False), ("22453", "Xã Cam Lâm", True), ("22708", "Xã Suối Dầu", False)]),
    # The one old commune split five ways (Hà Nội).
    ("00634", "Phường Đại Mỗ", "01",
     [("00622", "Phường Xuân Phương", False), ("00634", "Phường Tây Mỗ", False), ("00637", "Phường Đại Mỗ", True),
      ("09556", "Phường Hà Đông", False), ("09886", "Phường Dương Nội", False)]),
]  # fmt: skip


@pytest.mark.parametrize(("code", "name", "old_province", "expected"), SPLIT, ids=[s[1] for s in SPLIT])
def test_split_commune_lists_every_candidate_and_one_default(
    code: str, name: str, old_province: str, expected: list[tuple[str, str, bool]]
) -> None:
    found = old_commune(code)
    assert found is not None and (found.name, found.province_code) == (name, old_province)
    assert _pairs(code) == expected
    assert sum(c.is_default for c in new_communes_for_old(code)) == 1


def test_unknown_or_malformed_old_codes() -> None:
    for code in ["99999", "123456", "", "xa", "１６１７１"]:
        assert old_commune(code) is None
        assert new_communes_for_old(code) == ()
    assert old_commune("4") == old_commune("00004")  # leading zeros optional, as for commune()
    found = old_commune("4")
    assert found is not None and found.name == "Phường Trúc Bạch"


def test_counts_are_those_of_the_published_arrangement() -> None:
    table = admin_units._old_communes()
    # 10,035 old communes (DOMAIN.md: "10,0xx"; vietnam-provinces counts 10,033).
    assert len(table) == 10_035
    assert 10_000 <= len(table) <= 10_100
    sizes = Counter(len(candidates) for _, candidates in table.values() if len(candidates) > 1)
    # 471 split among 2-5 new communes (DOMAIN.md: "about 441").
    assert sizes == {2: 397, 3: 58, 4: 15, 5: 1}
    assert 400 <= sum(sizes.values()) <= 500
    assert sum(len(candidates) for _, candidates in table.values()) == 10_597
    # Every one of the 3,321 communes in force takes in at least one old commune, except the five
    # island special zones, whose districts had no communes.
    covered = {c.code for _, candidates in table.values() for c in candidates}
    missing = set(admin_units._communes()) - covered
    assert sorted(admin_units._communes()[code].name for code in missing) == [
        "Đặc khu Bạch Long Vĩ", "Đặc khu Côn Đảo", "Đặc khu Cồn Cỏ", "Đặc khu Hoàng Sa", "Đặc khu Lý Sơn",
    ]  # fmt: skip
    # Old and new codes overlap: 3,316 old codes are also codes in force (DOMAIN.md).
    assert sum(1 for code in table if commune(code) is not None) == 3_316


def test_every_row_is_well_formed() -> None:
    rows = read_csv("communes_pre2025_to_new.csv")
    assert len(rows) == 10_597
    for row in rows:
        assert len(row["old_code"]) == 5 and row["old_code"].isdigit(), row
        assert len(row["new_code"]) == 5 and row["new_code"].isdigit(), row
        in_force = commune(row["new_code"])
        assert in_force is not None, row
        assert (in_force.name, in_force.province_code) == (row["new_name"], row["new_province_code"]), row
        old_province = pre2025_province(row["old_province_code"])
        assert old_province is not None and old_province.new_code == row["new_province_code"], row


def test_translate_unit_uses_the_table_only_for_codes_not_in_force() -> None:
    # 16096 (Xã Ba Đình of Nga Sơn before 2025) is not a code in force: it translates.
    unit = translate_unit("38", "16096")
    assert unit.ok and unit.commune_code == "16171" and unit.translated
    # 16171 is a code in force (Xã Ba Đình): as is, although it was also Xã Nga Trường.
    assert translate_unit("38", "16171").commune_code == "16171"
    # A split old code that is not in force stays refused as ambiguous (choosing is done elsewhere).
    split = translate_unit("38", "15328")
    assert [(e.field, e.code) for e in split.errors] == [("commune", "commune_split_ambiguous")]
    # An old code of Hà Giang with the pre-2025 province code.
    assert translate_unit("02", "00688").errors == split.errors


@pytest.mark.skipif(
    find_spec("vietnamadminunits") is None,
    reason="vietnamadminunits (the optional 'tables' extra, data generation only) is not installed",
)
def test_the_csv_is_what_the_generator_derives_from_the_library() -> None:
    from mappings.tools.communes_from_vietnamadminunits import generate

    text, report = generate()
    on_disk = resources.files("mappings").joinpath("data", "communes_pre2025_to_new.csv").read_text(encoding="utf-8")
    assert text == on_disk, "regenerate: python -m mappings.tools.communes_from_vietnamadminunits"
    assert (report.old_communes, report.rows, report.split) == (10_035, 10_597, 471)
    assert len(report.without_commune) == 5
    # New wards whose library code is not the code in force, matched by name instead.
    assert len(report.code_corrections) == 123
    assert "Phường Láng (01): library 00199 -> in force 00187" in report.code_corrections
