"""The canonical form and the content fingerprint behind idempotent re-submission (province-api.md §2)."""

from __future__ import annotations

import copy
import hashlib
import json
import unicodedata
from typing import Any

from adapters.province.samples import sample_dossier, sample_funeral_dossier, sample_pdf_bytes
from mappings.canonical import dossier_from_json, dossier_to_json, fingerprint
from mappings.model import AttachmentFacts

from .helpers import attachments_for, facts, parse_ok


def digest(raw: Any, attachments: dict[str, AttachmentFacts] | None = None) -> str:
    attachments = attachments_for(raw) if attachments is None else attachments
    return fingerprint(parse_ok(raw, attachments), attachments)


def reversed_keys(value: Any) -> Any:
    """The same JSON value with every object's keys in reverse order."""
    if isinstance(value, dict):
        return {k: reversed_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(v) for v in value]
    return value


def test_fingerprint_is_a_sha256_hex() -> None:
    value = digest(sample_dossier())
    assert len(value) == 64 and int(value, 16) >= 0


def test_same_content_same_fingerprint_across_key_order() -> None:
    raw = sample_dossier()
    assert digest(reversed_keys(raw)) == digest(raw)
    assert digest(json.loads(json.dumps(raw, indent=4))) == digest(raw)


def test_number_or_string_spelling_of_codes_does_not_matter() -> None:
    as_strings = sample_dossier(KenhThucHien="2", NgayTiepNhan="20240115083000", MaDonViXuLy="16171")
    as_strings["DuLieuToKhai"].update(GioiTinh="2", MaDanToc="01", NoiThuongTru={"MaTinh": "08", "MaXa": "02269"})
    as_numbers = sample_dossier(KenhThucHien=2, NgayTiepNhan=20240115083000, MaDonViXuLy=16171)
    as_numbers["DuLieuToKhai"].update(GioiTinh=2, MaDanToc=1, NoiThuongTru={"MaTinh": 8, "MaXa": 2269})
    assert digest(as_numbers) == digest(as_strings)


def test_unicode_normalisation_and_padding_spaces_do_not_matter() -> None:
    raw = sample_dossier()
    other = copy.deepcopy(raw)
    other["DuLieuToKhai"]["HoTen"] = " " + unicodedata.normalize("NFD", "Nguyễn  Thị Hoa") + " "
    assert digest(other) == digest(raw)


def test_declared_hash_and_document_order_do_not_matter() -> None:
    raw = sample_funeral_dossier()
    attachments = attachments_for(raw)
    other = copy.deepcopy(raw)
    other["TaiLieuNop"].reverse()
    other["TaiLieuNop"][0]["MaBam"] = attachments[other["TaiLieuNop"][0]["TepDinhKemId"]].sha256
    assert digest(other, attachments) == digest(raw, attachments)


def test_changed_content_changes_the_fingerprint() -> None:
    base = digest(sample_dossier())
    changed = [
        sample_dossier(NgayHenTra="20240206170000"),
        sample_dossier(KenhThucHien=1),
        sample_dossier(TenTTHC="Trợ cấp xã hội hằng tháng"),
    ]
    edits = [("HoTen", "Nguyễn Thị Hòa"), ("NgaySinh", "03/1941"), ("NhomDoiTuong", "NCT_KHONG_NOI_NUONG_TUA")]
    for key, value in edits:
        raw = sample_dossier()
        raw["DuLieuToKhai"][key] = value
        changed.append(raw)
    renamed = sample_dossier()
    renamed["TaiLieuNop"][0]["TenTepDinhKem"] = "to-khai.pdf"
    changed.append(renamed)
    digests = {digest(raw) for raw in changed}
    assert base not in digests
    assert len(digests) == len(changed)


def test_changed_attachment_bytes_change_the_fingerprint() -> None:
    raw = sample_dossier()
    one = {"f1": facts(sample_pdf_bytes("to khai v1"))}
    two = {"f1": facts(sample_pdf_bytes("to khai v2"))}
    assert digest(raw, one) != digest(raw, two)
    assert digest(raw, one) == digest(raw, {"f1": facts(sample_pdf_bytes("to khai v1"))})


def test_added_attachment_changes_the_fingerprint() -> None:
    raw = sample_dossier()
    more = sample_dossier()
    more["TaiLieuNop"].append({"TepDinhKemId": "f2", "TenTepDinhKem": "cccd.pdf",
                               "MaThanhPhanHoSo": "BAN_SAO_GIAY_TO_TUY_THAN"})  # fmt: skip
    assert digest(more) != digest(raw)


def test_canonical_json_round_trip() -> None:
    for raw in (sample_dossier(), sample_funeral_dossier()):
        raw["DuLieuToKhai"]["NgaySinh"] = "03/1941"
        raw["TaiLieuNop"][0]["MaBam"] = hashlib.sha256(b"x").hexdigest()
        dossier = parse_ok(raw, {**attachments_for(raw), "f1": facts(b"x")})
        data = dossier_to_json(dossier)
        assert json.loads(json.dumps(data)) == data  # JSON-compatible as is
        assert dossier_from_json(json.loads(json.dumps(data))) == dossier


def test_canonical_json_keeps_times_with_their_offset() -> None:
    data = dossier_to_json(parse_ok(sample_dossier()))
    assert data["received_at"] == "2024-01-15T08:30:00+07:00"
    assert data["due_at"] == "2024-02-05T17:00:00+07:00"
    assert data["beneficiary"]["birth_date"] == {"year": 1941, "month": 3, "day": 2}
