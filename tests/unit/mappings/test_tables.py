"""Code tables, row by row against DOMAIN.md and the contracts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mappings import tables
from mappings.tables import (
    beneficiary_group,
    beneficiary_groups,
    channel_code,
    component,
    components,
    error_message,
    ethnic_group,
    gender_code,
    ministry_status,
    ministry_statuses,
    national_status,
    national_status_name,
    note_text,
    procedure,
    procedures,
)

# DOMAIN.md "Mapping ministry -> national".
STATUS_MAP = [
    ("CHO_TIEP_NHAN", 2),
    ("DA_TIEP_NHAN", 4),
    ("DANG_THAM_DINH", 4),
    ("YEU_CAU_BO_SUNG", 5),
    ("TU_CHOI_TIEP_NHAN", 3),
    ("DA_PHE_DUYET", 9),
    ("KHONG_PHE_DUYET", 9),
    ("DA_TRA_KET_QUA", 10),
]


@pytest.mark.parametrize(("ministry", "national"), STATUS_MAP)
def test_ministry_status_maps_to_national_status(ministry: str, national: int) -> None:
    assert national_status(ministry) == national
    found = ministry_status(ministry)
    assert found is not None and found.name
    assert national_status_name(national)


def test_ministry_status_table_is_exactly_the_contract_list() -> None:
    assert [s.code for s in ministry_statuses()] == [m for m, _ in STATUS_MAP]
    assert national_status("TRA_CUU") is None
    assert ministry_status("cho_tiep_nhan") is None


@pytest.mark.parametrize(("code", "final"), [("TU_CHOI_TIEP_NHAN", True), ("DA_TRA_KET_QUA", True),
                                             ("CHO_TIEP_NHAN", False), ("YEU_CAU_BO_SUNG", False),
                                             ("DA_PHE_DUYET", False), ("KHONG_PHE_DUYET", False)])  # fmt: skip
def test_final_statuses(code: str, final: bool) -> None:
    found = ministry_status(code)
    assert found is not None and found.is_final is final


@pytest.mark.parametrize("code", range(1, 11))
def test_national_statuses_one_to_ten_have_vietnamese_names(code: int) -> None:
    assert national_status_name(code)


@pytest.mark.parametrize("code", [0, 11, -1])
def test_unknown_national_status(code: int) -> None:
    assert national_status_name(code) is None


@pytest.mark.parametrize(("national", "code"), [(1, "NAM"), (2, "NU"), (0, None), (3, None)])
def test_genders(national: int, code: str | None) -> None:
    assert gender_code(national) == code


@pytest.mark.parametrize(
    ("national", "code"), [(1, "TRUC_TIEP"), (2, "TRUC_TUYEN"), (3, "BUU_CHINH"), (0, None), (4, None)]
)
def test_channels(national: int, code: str | None) -> None:
    assert channel_code(national) == code


# DOMAIN.md, Decision 121-TCTK/PPCĐ (1979).
ETHNIC_GROUPS = [
    "Kinh", "Tày", "Thái", "Hoa", "Khơ-me", "Mường", "Nùng", "Mông", "Dao", "Gia-rai", "Ngái", "Ê-đê",
    "Ba-na", "Xơ-đăng", "Sán Chay", "Cơ-ho", "Chăm", "Sán Dìu", "Hrê", "Mnông", "Ra-glai", "Xtiêng",
    "Bru-Vân Kiều", "Thổ", "Giáy", "Cơ-tu", "Gié-Triêng", "Mạ", "Khơ-mú", "Co", "Tà-ôi", "Chơ-ro", "Kháng",
    "Xinh-mun", "Hà Nhì", "Chu-ru", "Lào", "La Chí", "La Ha", "Phù Lá", "La Hủ", "Lự", "Lô Lô", "Chứt",
    "Mảng", "Pà Thẻn", "Cơ Lao", "Cống", "Bố Y", "Si La", "Pu Péo", "Brâu", "Ơ Đu", "Rơ-măm",
]  # fmt: skip


@pytest.mark.parametrize(("code", "name"), [(f"{i:02d}", name) for i, name in enumerate(ETHNIC_GROUPS, 1)])
def test_ethnic_group(code: str, name: str) -> None:
    assert ethnic_group(code) == name


@pytest.mark.parametrize("code", ["00", "55", "1", "001", "", "Kinh"])
def test_unknown_ethnic_group(code: str) -> None:
    assert ethnic_group(code) is None


def test_there_are_exactly_54_ethnic_groups() -> None:
    assert len(tables._ethnic_groups()) == 54


# DOMAIN.md: groups, base coefficients (age variants: coefficients.csv, test_money.py) and the declaration form.
GROUPS = [
    ("TE_DUOI_4", "2.5", "TK_1A"),
    ("TE_4_16", "1.5", "TK_1A"),
    ("TN_16_22", "1.5", "TK_1A"),
    ("HIV_TE_NGHEO", "2.5", "TK_1B"),  # 5.3: a child with HIV, on the HIV form (our reading)
    ("HIV_NGHEO", "1.5", "TK_1B"),
    ("DON_THAN_NGHEO", "1.0", "TK_1B"),
    ("NCT_NGHEO_KHONG_NGUOI_PHUNG_DUONG", "1.5", "TK_1C"),
    ("NCT_NGHEO_CO_NGUOI_PHUNG_DUONG", "1.5", "TK_1C"),  # 5.5a: the 1.0 some data gave is wrong
    ("NCT_75_DTTS", "1.0", "TK_1C"),  # 5.5b
    ("NCT_80_KHONG_LUONG", "1.0", "TK_1C"),
    ("NCT_KHONG_NOI_NUONG_TUA", "3.0", "TK_1C"),
    ("NKT_DAC_BIET_NANG", "2.0", "TK_1D"),
    ("NKT_NANG", "1.5", "TK_1D"),
    ("TE_DUOI_3_DTTS_NGHEO", "1.5", "TK_1A"),
]


@pytest.mark.parametrize(("code", "coefficient", "form"), GROUPS)
def test_beneficiary_group_coefficient_and_declaration_form(code: str, coefficient: str, form: str) -> None:
    group = beneficiary_group(code)
    assert group is not None
    assert group.coefficient == Decimal(coefficient)
    assert group.declaration_component == form
    assert group.name


def test_beneficiary_group_table_is_exactly_the_domain_list() -> None:
    assert [g.code for g in beneficiary_groups()] == [code for code, _, _ in GROUPS]
    assert beneficiary_group("nct_80_khong_luong") is None


# DOMAIN.md: component codes; TK_1D needs GXN_KHUYET_TAT.
COMPONENTS = [
    ("TK_1A", True, set(), "Mẫu số 1a"),
    ("TK_1B", True, set(), "Mẫu số 1b"),
    ("TK_1C", True, set(), "Mẫu số 1c"),
    ("TK_1D", True, {"GXN_KHUYET_TAT"}, "Mẫu số 1d"),
    ("TK_MAI_TANG", True, set(), "mai táng"),
    ("GXN_KHUYET_TAT", False, set(), "khuyết tật"),
    ("TRICH_LUC_KHAI_TU", False, set(), "khai tử"),
    ("BAN_SAO_GIAY_TO_TUY_THAN", False, set(), "tùy thân"),
    ("GIAY_TO_KHAC", False, set(), "khác"),
]


@pytest.mark.parametrize(("code", "is_declaration", "requires", "in_name"), COMPONENTS)
def test_component(code: str, is_declaration: bool, requires: set[str], in_name: str) -> None:
    found = component(code)
    assert found is not None
    assert found.is_declaration is is_declaration
    assert found.requires == requires
    assert in_name in found.name


def test_component_table_is_exactly_the_domain_list() -> None:
    assert [c.code for c in components()] == [code for code, *_ in COMPONENTS]
    assert component("TK_1E") is None


def test_component_name_of_the_contract_example() -> None:
    found = component("TK_1C")
    assert found is not None and found.name == "Tờ khai đề nghị trợ giúp xã hội (Mẫu số 1c)"


@pytest.mark.parametrize(
    ("code", "kind", "required", "by_group", "days"),
    [
        ("1.001776", "monthly_allowance", set(), True, 22),
        ("1.001731", "funeral_support", {"TK_MAI_TANG", "TRICH_LUC_KHAI_TU"}, False, 5),
        ("1.000145", "residence_change", set(), False, 8),
    ],
)
def test_procedure(code: str, kind: str, required: set[str], by_group: bool, days: int) -> None:
    found = procedure(code)
    assert found is not None
    assert found.kind == kind
    assert found.required_components == required
    assert found.declaration_by_group is by_group
    assert found.processing_days == days
    assert found.name


def test_the_code_used_before_for_funeral_support_is_refused_as_unknown() -> None:
    assert procedure("2.000744") is None


@pytest.mark.parametrize("code", ["1.001777", "1001776", "", "2.000745"])
def test_unknown_procedure(code: str) -> None:
    assert procedure(code) is None


def test_every_required_component_and_form_exists() -> None:
    for proc in procedures():
        assert all(component(c) is not None for c in proc.required_components), proc.code
    for group in beneficiary_groups():
        form = component(group.declaration_component)
        assert form is not None and form.is_declaration, group.code
    for comp in components():
        assert all(component(c) is not None for c in comp.requires), comp.code


def test_error_messages_are_vietnamese_with_parameters_filled() -> None:
    message = error_message("unknown_procedure", value="9.999999")
    assert message == "Thủ tục hành chính 9.999999 không thuộc các thủ tục trợ giúp xã hội mà hệ thống tiếp nhận."


def test_error_message_for_an_unknown_code_names_the_code() -> None:
    assert "no_such_code" in error_message("no_such_code")


def test_error_message_keeps_a_missing_parameter_visible() -> None:
    assert "{file_id}" in error_message("attachment_missing")


def test_note_text_fills_formatted_parameters() -> None:
    assert "03/1941" in note_text("birth_date_month_year", month=3, year=1941, first="01/03/1941")
