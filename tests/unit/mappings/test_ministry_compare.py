"""Comparing the create body sent with the dossier the ministry holds (after a 409): what differs, by name only."""

from __future__ import annotations

import copy
import json
from typing import Any

from adapters.province.samples import sample_dossier
from mappings.ministry import to_ministry_body
from mappings.ministry_compare import compare_with_stored, province_path

from .helpers import parse_ok

SHA_A, SHA_B, SHA_C = "a" * 64, "b" * 64, "c" * 64


def sent() -> dict[str, Any]:
    return to_ministry_body(parse_ok(sample_dossier()), {"f1": "TT-NEW1"}, note="identity note")


def stored_view(body: dict[str, Any], files: list[tuple[str, str]]) -> dict[str, Any]:
    """What the sandbox's GET answers for ``body`` (its own fields added, thanhPhanHoSo as file ids)."""
    view = {"id": "HS-1", "trangThai": "CHO_TIEP_NHAN", "ngayTao": "2024-01-15T08:31:00+07:00", "lichSu": [],
            **copy.deepcopy(body)}
    view["thanhPhanHoSo"] = [{"maThanhPhan": code, "tenThanhPhan": "x", "tepTinIds": [i]} for code, i in files]
    view["ghiChu"] = None
    return view


def test_the_same_content_under_other_file_ids_and_another_note_is_the_same() -> None:
    body = sent()
    stored = stored_view(body, [("TK_1C", "TT-OLD1")])
    result = compare_with_stored(body, stored, [("TK_1C", SHA_A)], [("TK_1C", "TT-OLD1")],
                                 {"TT-OLD1": SHA_A, "TT-NEW1": SHA_A})
    assert result.same and not result.only_missing_files
    assert result.summary() == {"same": True, "fields": [], "missing": [], "extra": [], "unidentified": 0}


def test_changed_fields_are_named_by_path_and_their_values_never_appear() -> None:
    body = sent()
    older = copy.deepcopy(body)
    older["doiTuong"]["hoTen"] = "Nguyễn Thị Hòa"
    older["doiTuong"]["noiThuongTru"]["maXa"] = "16172"
    older["ngayHenTra"] = "2024-02-06T17:00:00+07:00"
    result = compare_with_stored(body, stored_view(older, [("TK_1C", "TT-OLD1")]), [("TK_1C", SHA_A)],
                                 [("TK_1C", "TT-OLD1")], {"TT-OLD1": SHA_A})
    assert result.fields == ("doiTuong.hoTen", "doiTuong.noiThuongTru.maXa", "ngayHenTra")
    assert not result.same and not result.only_missing_files
    text = json.dumps(result.summary(), ensure_ascii=False)
    assert "Hòa" not in text and "Hoa" not in text and "16172" not in text
    assert [province_path(p) for p in result.fields] == [
        "DuLieuToKhai.HoTen", "DuLieuToKhai.NoiThuongTru.MaXa", "NgayHenTra"]


def test_absent_equals_null_an_instant_equals_itself_at_another_offset_and_the_ministry_s_own_fields_are_ignored(
) -> None:
    body = sent()
    body["nguoiNop"]["soDienThoai"] = None
    stored = stored_view(body, [("TK_1C", "TT-OLD1")])
    del stored["nguoiNop"]["soDienThoai"]
    stored["ngayNop"] = "2024-01-15T01:30:00+00:00"
    stored["canBo"] = "can.bo.01"
    result = compare_with_stored(body, stored, [("TK_1C", SHA_A)], [("TK_1C", "TT-OLD1")], {"TT-OLD1": SHA_A})
    assert result.same


def test_a_file_the_ministry_lacks_is_missing_and_only_that_is_what_a_supplement_can_send() -> None:
    body = sent()
    result = compare_with_stored(body, stored_view(body, [("TK_1C", "TT-OLD1")]),
                                 [("TK_1C", SHA_A), ("GIAY_TO_KHAC", SHA_B)], [("TK_1C", "TT-OLD1")],
                                 {"TT-OLD1": SHA_A})
    assert result.missing == (("GIAY_TO_KHAC", SHA_B),) and result.extra == ()
    assert result.only_missing_files
    assert result.summary()["missing"] == ["GIAY_TO_KHAC"]


def test_a_replaced_file_is_missing_and_extra_and_an_unknown_id_cannot_be_named() -> None:
    body = sent()
    stored_files = [("TK_1C", "TT-OLD1"), ("GIAY_TO_KHAC", "TT-FOREIGN")]
    result = compare_with_stored(body, stored_view(body, stored_files), [("TK_1C", SHA_C)], stored_files,
                                 {"TT-OLD1": SHA_A})
    assert result.missing == (("TK_1C", SHA_C),)
    assert result.extra == ("GIAY_TO_KHAC", "TK_1C") and result.unidentified == 1
    assert not result.only_missing_files


def test_the_same_bytes_twice_count_twice() -> None:
    body = sent()
    result = compare_with_stored(body, stored_view(body, [("TK_1C", "TT-1")]), [("TK_1C", SHA_A), ("TK_1C", SHA_A)],
                                 [("TK_1C", "TT-1")], {"TT-1": SHA_A})
    assert result.missing == (("TK_1C", SHA_A),)
