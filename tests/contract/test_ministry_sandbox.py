"""The ministry sandbox itself, driven with plain httpx: strict where the contract is silent.

These pin what the sandbox refuses, with which ``maLoi`` and which ``chiTiet`` fields, so the
client tests above can trust that "accepted by the sandbox" means "described by the contract".
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from adapters.ministry.sandbox import codes
from adapters.ministry.sandbox.app import create_app
from adapters.ministry.sandbox.clock import Clock
from adapters.ministry.sandbox.config import RateLimitSettings, SandboxConfig
from adapters.province.samples import sample_pdf_bytes
from mappings import tables
from tests.contract.conftest import OTHER_CLIENT_ID, OTHER_CLIENT_SECRET
from tests.contract.ministry_support import (
    DELETE,
    JPEG_BYTES,
    PNG_BYTES,
    SandboxHandle,
    dossier_body,
    sha256_hex,
    with_changes,
)
from tests.support.servers import run_server

pytestmark = pytest.mark.timeout(30)

CREATE = "/api/v1/ho-so/cho-tiep-nhan"
FEED = "/api/v1/ho-so/thay-doi"


@pytest.fixture
def token(sandbox: SandboxHandle) -> str:
    """A valid token of the default client."""
    return sandbox.token()


def bearer(token: str, **headers: str) -> dict[str, str]:
    """Authorization header (plus others, ``_`` for ``-``)."""
    return {"Authorization": f"Bearer {token}", **{k.replace("_", "-"): v for k, v in headers.items()}}


def fields(response: httpx.Response) -> dict[str, str]:
    """``chiTiet`` as {truong: thongDiep}, after checking the §2 body shape."""
    body = response.json()
    assert set(body) >= {"maLoi", "thongDiep", "chiTiet"}, body
    assert isinstance(body["thongDiep"], str) and body["thongDiep"]
    return {d["truong"]: d["thongDiep"] for d in body["chiTiet"]}


def upload_id(sandbox: SandboxHandle, token: str, component: str = "TK_1C", text: str = "x") -> str:
    """Upload a PDF; its file id."""
    response = sandbox.upload(token, sample_pdf_bytes(text), component=component)
    assert response.status_code == 201, response.text
    file_id: str = response.json()["id"]
    return file_id


def valid_body(sandbox: SandboxHandle, token: str, **changes: Any) -> dict[str, Any]:
    """A valid create body with a fresh upload, with ``changes`` applied."""
    return with_changes(dossier_body([upload_id(sandbox, token)]), **changes)


def create(sandbox: SandboxHandle, token: str, body: Any, **headers: str) -> httpx.Response:
    """POST cho-tiep-nhan."""
    return sandbox.http.post(CREATE, headers=bearer(token, **headers), json=body)


# ---- tables -----------------------------------------------------------------------------------


def test_the_gateway_and_the_sandbox_know_the_same_beneficiary_groups() -> None:
    # Two copies on purpose (codes.py): this keeps them from drifting. A group the gateway accepts and
    # the ministry refuses would go dead at delivery; one the ministry knows and the gateway refuses
    # could never be filed.
    gateway = {g.code for g in tables.beneficiary_groups()}
    assert gateway == codes.BENEFICIARY_GROUPS, (
        f"only the gateway: {sorted(gateway - codes.BENEFICIARY_GROUPS)}, "
        f"only the sandbox: {sorted(codes.BENEFICIARY_GROUPS - gateway)}"
    )
    assert {"HIV_TE_NGHEO", "NCT_75_DTTS"} <= gateway  # DOMAIN.md's art. 5.3 and 5.5b


@pytest.mark.parametrize(("group", "form"), [("HIV_TE_NGHEO", "TK_1B"), ("NCT_75_DTTS", "TK_1C")])
def test_the_sandbox_accepts_the_added_groups(sandbox: SandboxHandle, token: str, group: str, form: str) -> None:
    file_id = upload_id(sandbox, token, component=form)
    body = with_changes(dossier_body([file_id], component=form), doiTuong__nhomDoiTuong=group)
    response = create(sandbox, token, body)
    assert response.status_code == 201, response.text


def test_the_sandbox_tables_agree_with_the_gateway_tables() -> None:
    assert {c.code for c in tables.components()} == codes.COMPONENT_CODES
    assert {f"{n:02d}" for n in range(1, 55)} == codes.ETHNIC_CODES
    assert all(tables.ethnic_group(code) for code in codes.ETHNIC_CODES)
    assert {s.code for s in tables.ministry_statuses()} == set(codes.STATUSES)


# ---- §1 OAuth ---------------------------------------------------------------------------------


def token_form(**overrides: str) -> dict[str, str]:
    """A valid token request's form, with ``overrides`` ("-" drops a field)."""
    form = {"grant_type": "client_credentials", "client_id": "sandbox-client",
            "client_secret": "sandbox-secret", "scope": "tgxh.hoso"}
    form.update(overrides)
    return {k: v for k, v in form.items() if v != "-"}


def test_token_answer_has_the_contract_shape(sandbox: SandboxHandle) -> None:
    response = sandbox.http.post("/oauth2/token", data=token_form())
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        (token_form(client_secret="nope"), 401, "invalid_client"),
        (token_form(client_id="stranger"), 401, "invalid_client"),
        (token_form(client_id="-"), 401, "invalid_client"),
        (token_form(grant_type="password"), 400, "unsupported_grant_type"),
        (token_form(grant_type="-"), 400, "invalid_request"),
        (token_form(scope="other"), 400, "invalid_scope"),
        (token_form(scope="-"), 400, "invalid_scope"),
    ],
)
def test_token_request_refusals(sandbox: SandboxHandle, form: dict[str, str], status: int, error: str) -> None:
    response = sandbox.http.post("/oauth2/token", data=form)
    assert (response.status_code, response.json()) == (status, {"error": error})


def test_token_request_must_be_form_encoded(sandbox: SandboxHandle) -> None:
    response = sandbox.http.post("/oauth2/token", json=token_form())
    assert (response.status_code, response.json()) == (400, {"error": "invalid_request"})


@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer unknown-token", "Basic abc", "bearer"])
def test_calls_without_a_valid_token_get_invalid_token(sandbox: SandboxHandle, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = sandbox.http.get(FEED, params={"gioiHan": 1}, headers=headers)
    assert (response.status_code, response.json()) == (401, {"error": "invalid_token"})
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.fixture
def clocked() -> Iterator[tuple[SandboxHandle, list[float]]]:
    """A sandbox of its own whose monotonic clock the test moves (token, file and key lifetimes)."""
    now = [0.0]
    app = create_app(SandboxConfig(token_lifetime_seconds=60), clock=Clock(monotonic=lambda: now[0]))
    with run_server(app) as base_url:
        handle = SandboxHandle(app, base_url)
        try:
            yield handle, now
        finally:
            handle.close()


def test_a_token_dies_after_expires_in(clocked: tuple[SandboxHandle, list[float]]) -> None:
    sandbox, now = clocked
    value = sandbox.token()
    now[0] += 59.9
    assert sandbox.http.get(FEED, params={"gioiHan": 1}, headers=bearer(value)).status_code == 200
    now[0] += 0.2
    assert sandbox.http.get(FEED, params={"gioiHan": 1}, headers=bearer(value)).status_code == 401


def test_unreferenced_files_are_deleted_after_24_hours(clocked: tuple[SandboxHandle, list[float]]) -> None:
    sandbox, now = clocked
    file_id = upload_id(sandbox, sandbox.token())
    now[0] += 24 * 3600 + 1
    value = sandbox.token()
    response = create(sandbox, value, dossier_body([file_id]))
    assert response.status_code == 400
    assert "thanhPhanHoSo[0].tepTinIds[0]" in fields(response)


def test_an_idempotency_key_is_remembered_for_24_hours(clocked: tuple[SandboxHandle, list[float]]) -> None:
    sandbox, now = clocked
    value = sandbox.token()
    first = sandbox.upload(value, sample_pdf_bytes("a"), key="k")
    now[0] += 23 * 3600
    value = sandbox.token()
    again = sandbox.upload(value, sample_pdf_bytes("a"), key="k")
    assert again.json()["id"] == first.json()["id"] and again.headers["idempotent-replayed"] == "true"
    now[0] += 2 * 3600
    value = sandbox.token()
    fresh = sandbox.upload(value, sample_pdf_bytes("a"), key="k")
    assert fresh.status_code == 201 and fresh.json()["id"] != first.json()["id"]
    assert "idempotent-replayed" not in fresh.headers


# ---- §2/§3 errors and idempotency -------------------------------------------------------------


def test_unknown_paths_and_methods_answer_in_the_contract_shape(sandbox: SandboxHandle, token: str) -> None:
    missing = sandbox.http.get("/api/v1/khong-co", headers=bearer(token))
    assert missing.status_code == 404 and missing.json()["maLoi"] == "KHONG_TIM_THAY"
    wrong = sandbox.http.delete(CREATE, headers=bearer(token))
    assert wrong.status_code == 405 and wrong.json()["maLoi"] == "PHUONG_THUC_KHONG_HO_TRO"


@pytest.mark.parametrize("key", [b"", b"k" * 65, "khóa".encode(), b"has space"])
def test_idempotency_keys_must_be_1_to_64_visible_characters(sandbox: SandboxHandle, token: str, key: bytes) -> None:
    headers = {"Authorization": f"Bearer {token}".encode(), "Idempotency-Key": key}
    response = sandbox.http.post(CREATE, headers=headers, json={})
    assert response.status_code == 400 and "Idempotency-Key" in fields(response)


def test_a_64_character_key_is_fine_and_a_refusal_is_replayed_too(sandbox: SandboxHandle, token: str) -> None:
    key = "k" * 64
    first = create(sandbox, token, {"maHoSoTinh": "x"}, Idempotency_Key=key)
    again = create(sandbox, token, {"maHoSoTinh": "x"}, Idempotency_Key=key)
    assert first.status_code == again.status_code == 400
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    other = create(sandbox, token, {"maHoSoTinh": "y"}, Idempotency_Key=key)
    assert other.status_code == 422 and other.json()["maLoi"] == "KHOA_TRUNG_LAP_KHAC_NOI_DUNG"


def test_keys_belong_to_their_client(sandbox: SandboxHandle, token: str) -> None:
    body = valid_body(sandbox, token)
    assert create(sandbox, token, body, Idempotency_Key="shared").status_code == 201
    other = sandbox.token(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET)
    response = create(sandbox, other, {"maHoSoTinh": "z"}, Idempotency_Key="shared")
    assert response.status_code == 400  # judged afresh: not a replay, not a key conflict


# ---- §4 files ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "media_type"), [(PNG_BYTES, "image/png"), (JPEG_BYTES, "image/jpeg")])
def test_images_are_accepted_by_their_bytes(sandbox: SandboxHandle, token: str, data: bytes, media_type: str) -> None:
    response = sandbox.upload(token, data, content_type=media_type, name="anh")
    assert response.status_code == 201
    assert response.json() == {"id": response.json()["id"], "sha256": sha256_hex(data), "kichThuoc": len(data),
                               "tenTep": "anh", "loaiTep": media_type}


def test_the_digest_part_is_optional(sandbox: SandboxHandle, token: str) -> None:
    data = sample_pdf_bytes()
    response = sandbox.http.post("/api/v1/tep-tin", headers=bearer(token), data={"maThanhPhan": "TK_1C"},
                                 files={"tep": ("a.pdf", data, "application/pdf")})
    assert response.status_code == 201 and response.json()["sha256"] == sha256_hex(data)


@pytest.mark.parametrize(
    ("data", "declared", "status", "code"),
    [
        (b"plain text", "application/pdf", 415, "DINH_DANG_KHONG_HO_TRO"),
        (b"GIF89a....", "image/gif", 415, "DINH_DANG_KHONG_HO_TRO"),
        (sample_pdf_bytes(), "image/png", 415, "DINH_DANG_KHONG_HO_TRO"),
        (b"", "application/pdf", 415, "DINH_DANG_KHONG_HO_TRO"),
    ],
)
def test_file_type_is_judged_by_the_bytes(sandbox: SandboxHandle, token: str, data: bytes, declared: str,
                                          status: int, code: str) -> None:
    response = sandbox.upload(token, data, content_type=declared)
    assert (response.status_code, response.json()["maLoi"]) == (status, code)
    assert "tep" in fields(response)


def test_a_digest_mismatch_is_sai_ma_bam(sandbox: SandboxHandle, token: str) -> None:
    response = sandbox.upload(token, sample_pdf_bytes(), sha256=sha256_hex(b"other"))
    assert (response.status_code, response.json()["maLoi"]) == (422, "SAI_MA_BAM")
    assert "sha256" in fields(response)


@pytest.mark.parametrize(
    ("data", "files", "field"),
    [
        ({"sha256": "A" * 64, "maThanhPhan": "TK_1C"}, True, "sha256"),
        ({"sha256": "abc", "maThanhPhan": "TK_1C"}, True, "sha256"),
        ({}, True, "maThanhPhan"),
        ({"maThanhPhan": "TK_9Z"}, True, "maThanhPhan"),
        ({"maThanhPhan": "TK_1C", "ghiChu": "x"}, True, "ghiChu"),
        ({"maThanhPhan": "TK_1C"}, False, "tep"),
    ],
)
def test_upload_parts_are_checked(sandbox: SandboxHandle, token: str, data: dict[str, str], files: bool,
                                  field: str) -> None:
    payload = {"tep": ("a.pdf", sample_pdf_bytes(), "application/pdf")} if files else {"x": ("", b"")}
    if not files:
        data = {**data, "tep": "not a file"}
    response = sandbox.http.post("/api/v1/tep-tin", headers=bearer(token), data=data, files=payload)
    assert response.status_code == 400, response.text
    assert field in fields(response)


def test_an_upload_must_be_multipart(sandbox: SandboxHandle, token: str) -> None:
    response = sandbox.http.post("/api/v1/tep-tin", headers=bearer(token), json={"tep": "x"})
    assert response.status_code == 400 and "Content-Type" in fields(response)


def test_files_over_the_limit_are_413() -> None:
    app = create_app(SandboxConfig(max_file_bytes=2048))
    with run_server(app) as base_url:
        handle = SandboxHandle(app, base_url)
        value = handle.token()
        small = handle.upload(value, sample_pdf_bytes() + b"%" + b"x" * 1000)
        just_over = handle.upload(value, sample_pdf_bytes() + b"%" + b"x" * 2048)
        far_over = handle.upload(value, sample_pdf_bytes() + b"%" + b"x" * 200_000)
        handle.close()
    assert small.status_code == 201
    assert (just_over.status_code, just_over.json()["maLoi"]) == (413, "TEP_QUA_LON")
    assert (far_over.status_code, far_over.json()["maLoi"]) == (413, "TEP_QUA_LON")


# ---- §5 dossier validation --------------------------------------------------------------------


def test_every_fault_of_a_body_is_listed(sandbox: SandboxHandle, token: str) -> None:
    body = valid_body(
        sandbox, token,
        maHoSoTinh="HS 1",
        maThuTuc="1001776",
        ngayNop="2024-01-15 08:30:00",
        kenhNop="FAX",
        nguoiNop__soDinhDanh="03807500432",
        nguoiNop__soDienThoai="call me",
        doiTuong__ngaySinh="02/03/1941",
        doiTuong__gioiTinh="F",
        doiTuong__soDinhDanh="03814100123X",
        doiTuong__maDanToc="55",
        doiTuong__noiThuongTru__maTinh="99",
        doiTuong__noiThuongTru__maXa="00000",
        doiTuong__nhomDoiTuong="NGUOI_GIA",
        thuaRa="x",
    )
    response = create(sandbox, token, body)
    assert (response.status_code, response.json()["maLoi"]) == (400, "DU_LIEU_KHONG_HOP_LE")
    assert set(fields(response)) == {
        "maHoSoTinh", "maThuTuc", "ngayNop", "kenhNop", "nguoiNop.soDinhDanh", "nguoiNop.soDienThoai",
        "doiTuong.ngaySinh", "doiTuong.gioiTinh", "doiTuong.soDinhDanh", "doiTuong.maDanToc",
        "doiTuong.noiThuongTru.maTinh", "doiTuong.noiThuongTru.maXa", "doiTuong.nhomDoiTuong", "thuaRa",
    }
    assert sandbox.all_dossiers() == []
    assert all(f["hoSo"] is None for f in sandbox.http.get("/_sandbox/tep-tin").json()["tepTin"])


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"maHoSoTinh": DELETE}, "maHoSoTinh", "bắt buộc"),
        ({"ngayHenTra": None}, "ngayHenTra", "trống"),
        ({"nguoiNop__hoTen": None}, "nguoiNop.hoTen", "trống"),
        ({"doiTuong__noiThuongTru__maXa": DELETE}, "doiTuong.noiThuongTru.maXa", "bắt buộc"),
        ({"doiTuong": None}, "doiTuong", "trống"),
        ({"doiTuong__noiThuongTru__maTinh": 38}, "doiTuong.noiThuongTru.maTinh", "chuỗi"),
        ({"doiTuong__noiThuongTru__maTinh": "038"}, "doiTuong.noiThuongTru.maTinh", ""),
        ({"doiTuong__noiThuongTru__maTinh": "02"}, "doiTuong.noiThuongTru.maTinh", "danh mục"),
        ({"doiTuong__noiThuongTru__maXa": "26734"}, "doiTuong.noiThuongTru.maXa", "danh mục"),
        ({"doiTuong__noiThuongTru__maXa": "00070"}, "doiTuong.noiThuongTru.maXa", "không thuộc tỉnh 38"),
        ({"doiTuong__maDanToc": "1"}, "doiTuong.maDanToc", "01–54"),
        ({"doiTuong__maDanToc": "00"}, "doiTuong.maDanToc", "01–54"),
        ({"doiTuong__ngaySinh": "1941-02-30"}, "doiTuong.ngaySinh", "không tồn tại"),
        ({"doiTuong__ngaySinh": "2999-01-01"}, "doiTuong.ngaySinh", "hợp lý"),
        ({"ngayNop": "2024-01-15T08:30:00Z"}, "ngayNop", "múi giờ"),
        ({"ngayHenTra": "2024-01-14T08:30:00+07:00"}, "ngayHenTra", "trước ngày nộp"),
        ({"doiTuong__hoTen": "   "}, "doiTuong.hoTen", "trống"),
        ({"thanhPhanHoSo": []}, "thanhPhanHoSo", "ít nhất"),
        ({"thanhPhanHoSo": {}}, "thanhPhanHoSo", "danh sách"),
        ({"ghiChu": 5}, "ghiChu", "chuỗi"),
    ],
)
def test_field_rules(sandbox: SandboxHandle, token: str, changes: dict[str, Any], field: str, message: str) -> None:
    response = create(sandbox, token, valid_body(sandbox, token, **changes))
    assert response.status_code == 400, response.text
    found = fields(response)
    assert list(found) == [field], found
    assert message in found[field]


def test_ghi_chu_may_be_null_or_absent(sandbox: SandboxHandle, token: str) -> None:
    assert create(sandbox, token, valid_body(sandbox, token, ghiChu=None)).status_code == 201
    assert create(sandbox, token, valid_body(sandbox, token, ghiChu=DELETE)).status_code == 201
    assert create(sandbox, token, valid_body(sandbox, token, ghiChu="Ghi chú")).status_code == 201


def test_optional_fields_are_configurable() -> None:
    config = SandboxConfig(optional_fields=["ghiChu", "ngayHenTra", "nguoiNop.soDienThoai"])
    app = create_app(config)
    with run_server(app) as base_url:
        handle = SandboxHandle(app, base_url)
        value = handle.token()
        response = create(handle, value, valid_body(handle, value, ngayHenTra=None,
                                                    nguoiNop__soDienThoai=DELETE))
        handle.close()
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("content", "content_type", "field"),
    [
        (b'{"a": 1}', "text/plain", "Content-Type"),
        (b'{"a": 1}', "application/json; charset=latin-1", "Content-Type"),
        (b"{not json", "application/json", "$"),
        (b"[]", "application/json", "$"),
        (b'{"maHoSoTinh": "a", "maHoSoTinh": "b"}', "application/json", "maHoSoTinh"),
        (b'{"a": NaN}', "application/json", "$"),
        (b'{"a": "\xff"}', "application/json", "$"),
    ],
)
def test_the_body_must_be_one_json_object(sandbox: SandboxHandle, token: str, content: bytes, content_type: str,
                                          field: str) -> None:
    response = sandbox.http.post(CREATE, headers=bearer(token, Content_Type=content_type), content=content)
    assert response.status_code == 400 and field in fields(response)


def test_query_parameters_are_not_part_of_create(sandbox: SandboxHandle, token: str) -> None:
    response = sandbox.http.post(CREATE, params={"x": "1"}, headers=bearer(token), json=valid_body(sandbox, token))
    assert response.status_code == 400 and "x" in fields(response)


def test_component_rules(sandbox: SandboxHandle, token: str) -> None:
    mine = upload_id(sandbox, token, "TK_1C", "a")
    other_kind = upload_id(sandbox, token, "GIAY_TO_KHAC", "b")
    theirs = upload_id(sandbox, sandbox.token(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET), "TK_1C", "c")
    entry = {"maThanhPhan": "TK_1C", "tenThanhPhan": "Tờ khai"}
    body = dossier_body([])
    body["thanhPhanHoSo"] = [
        {**entry, "tepTinIds": [mine, mine, "TT-NOPE", theirs, other_kind]},
        {**entry, "tepTinIds": []},
        {"maThanhPhan": "TK_9Z", "tenThanhPhan": "?", "tepTinIds": [mine], "thuaRa": 1},
    ]
    response = create(sandbox, token, body)
    assert set(fields(response)) == {
        "thanhPhanHoSo[1].maThanhPhan", "thanhPhanHoSo[1].tepTinIds", "thanhPhanHoSo[2].maThanhPhan",
        "thanhPhanHoSo[2].thuaRa",
    }
    body["thanhPhanHoSo"] = [{**entry, "tepTinIds": [mine, mine, "TT-NOPE", theirs, other_kind]}]
    response = create(sandbox, token, body)
    found = fields(response)
    assert set(found) == {f"thanhPhanHoSo[0].tepTinIds[{i}]" for i in (1, 2, 3, 4)}
    assert "nhiều lần" in found["thanhPhanHoSo[0].tepTinIds[1]"]
    assert "không tồn tại" in found["thanhPhanHoSo[0].tepTinIds[3]"]  # another client's: not disclosed
    assert "GIAY_TO_KHAC" in found["thanhPhanHoSo[0].tepTinIds[4]"]
    assert sandbox.all_dossiers() == []


def test_a_file_serves_one_dossier_only(sandbox: SandboxHandle, token: str) -> None:
    file_id = upload_id(sandbox, token)
    assert create(sandbox, token, dossier_body([file_id])).status_code == 201
    response = create(sandbox, token, dossier_body([file_id]))
    assert response.status_code == 400
    assert "đã được dùng" in fields(response)["thanhPhanHoSo[0].tepTinIds[0]"]


def test_a_duplicate_code_is_409_with_the_id_whoever_sends_it(sandbox: SandboxHandle, token: str) -> None:
    body = valid_body(sandbox, token)
    first = create(sandbox, token, body)
    other = sandbox.token(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET)
    again = create(sandbox, other, with_changes(body, thanhPhanHoSo=[
        {"maThanhPhan": "TK_1C", "tenThanhPhan": "Tờ khai", "tepTinIds": [upload_id(sandbox, other)]}]))
    assert again.status_code == 409
    assert again.json()["maLoi"] == "HO_SO_DA_TON_TAI" and again.json()["id"] == first.json()["id"]


def test_dossiers_are_only_visible_to_their_sender(sandbox: SandboxHandle, token: str) -> None:
    created = create(sandbox, token, valid_body(sandbox, token)).json()
    assert sandbox.http.get(f"/api/v1/ho-so/{created['id']}", headers=bearer(token)).status_code == 200
    other = sandbox.token(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET)
    response = sandbox.http.get(f"/api/v1/ho-so/{created['id']}", headers=bearer(other))
    assert response.status_code == 404 and response.json()["maLoi"] == "KHONG_TIM_THAY"


def test_the_lookup_import_lands_apart_and_no_officer_sees_it(sandbox: SandboxHandle, token: str) -> None:
    body = valid_body(sandbox, token)
    response = sandbox.http.post("/api/v1/ho-so/tra-cuu", headers=bearer(token), json=body)
    assert response.status_code == 201 and response.json()["id"].startswith("TC-")
    assert "trangThai" not in response.json()
    assert [d["maHoSoTinh"] for d in sandbox.lookup()] == [body["maHoSoTinh"]]
    assert sandbox.pending() == [] and sandbox.all_dossiers() == []
    assert sandbox.http.get(FEED, params={"gioiHan": 10}, headers=bearer(token)).json()["thayDoi"] == []
    lookup_id = response.json()["id"]
    assert sandbox.http.get(f"/api/v1/ho-so/{lookup_id}", headers=bearer(token)).status_code == 404
    assert sandbox.officer(lookup_id, "DA_TIEP_NHAN").status_code == 404
    page = sandbox.http.get("/").text
    assert page.index(body["maHoSoTinh"]) > page.index("Tra cứu")


# ---- §5 bo-sung, §6 statuses and feed ---------------------------------------------------------


def test_bo_sung_body_is_validated_and_unknown_dossiers_are_404(sandbox: SandboxHandle, token: str) -> None:
    created = create(sandbox, token, valid_body(sandbox, token)).json()
    sandbox.officer(created["id"], "YEU_CAU_BO_SUNG")
    url = f"/api/v1/ho-so/{created['id']}/bo-sung"
    response = sandbox.http.post(url, headers=bearer(token), json={"ghiChu": "x", "trangThai": "DA_TIEP_NHAN"})
    assert response.status_code == 400 and set(fields(response)) == {"thanhPhanHoSo", "trangThai"}
    missing = sandbox.http.post("/api/v1/ho-so/HS-NOPE/bo-sung", headers=bearer(token),
                                json={"thanhPhanHoSo": [], "ghiChu": None})
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [({}, "gioiHan"), ({"gioiHan": "0"}, "gioiHan"), ({"gioiHan": "501"}, "gioiHan"),
     ({"gioiHan": "abc"}, "gioiHan"), ({"gioiHan": "10", "sau": "garbage"}, "sau"),
     ({"gioiHan": "10", "sau": ""}, "sau"), ({"gioiHan": "10", "tu": "x"}, "tu")],
)
def test_feed_parameters_are_checked(sandbox: SandboxHandle, token: str, params: dict[str, str], field: str) -> None:
    response = sandbox.http.get(FEED, params=params, headers=bearer(token))
    assert response.status_code == 400 and field in fields(response)


def test_cursors_do_not_survive_a_reset(sandbox: SandboxHandle, token: str) -> None:
    cursor = sandbox.http.get(FEED, params={"gioiHan": 10}, headers=bearer(token)).json()["conTro"]
    sandbox.reset()
    value = sandbox.token()
    response = sandbox.http.get(FEED, params={"gioiHan": 10, "sau": cursor}, headers=bearer(value))
    assert response.status_code == 400 and "sau" in fields(response)


def test_officer_transitions_are_plausible(sandbox: SandboxHandle, token: str) -> None:
    dossier_id = create(sandbox, token, valid_body(sandbox, token)).json()["id"]
    assert sandbox.officer(dossier_id, "DA_PHE_DUYET").status_code == 409
    assert sandbox.officer(dossier_id, "CHO_TIEP_NHAN").status_code == 400
    assert sandbox.officer(dossier_id, "BIEN_MAT").status_code == 400
    refused = sandbox.officer(dossier_id, "DA_TIEP_NHAN", lyDo="không thuộc trạng thái này")
    assert refused.status_code == 400 and "lyDo" in fields(refused)
    assert sandbox.officer(dossier_id, "DA_TIEP_NHAN", canBo="cb").status_code == 200
    sandbox.officer(dossier_id, "DANG_THAM_DINH")
    decision = {"mucHuongThang": "nhiều", "thangBatDauHuong": "2/24"}
    wrong = sandbox.officer(dossier_id, "DA_PHE_DUYET", quyetDinh=decision)
    assert wrong.status_code == 400
    assert set(fields(wrong)) == {"quyetDinh.mucHuongThang", "quyetDinh.thangBatDauHuong"}
    granted = sandbox.officer(dossier_id, "DA_PHE_DUYET")
    assert set(granted.json()["quyetDinh"]) == {"so", "ngay", "mucHuongThang", "thangBatDauHuong"}
    assert sandbox.officer(dossier_id, "DA_TRA_KET_QUA").status_code == 200
    assert sandbox.officer(dossier_id, "DA_TIEP_NHAN").status_code == 409


# ---- faults, log, pages -----------------------------------------------------------------------


def test_faults_are_scoped_by_path_and_counted_down(sandbox: SandboxHandle, token: str) -> None:
    sandbox.faults(fail_next=2, status=503, path_prefixes=["/api/v1/tep-tin"])
    assert sandbox.http.get(FEED, params={"gioiHan": 1}, headers=bearer(token)).status_code == 200
    first = sandbox.upload(token, sample_pdf_bytes())
    assert first.status_code == 503 and first.json()["maLoi"] == "LOI_HE_THONG"
    assert first.headers["retry-after"] == "1"
    assert sandbox.http.get("/_sandbox/faults").json()["fail_next"] == 1
    assert sandbox.upload(token, sample_pdf_bytes()).status_code == 503
    assert sandbox.upload(token, sample_pdf_bytes()).status_code == 201
    faulted = [r["fault"] for r in sandbox.requests("/api/v1/tep-tin")]
    assert faulted == ["error_503", "error_503", None]


def test_faults_can_hit_the_token_endpoint(sandbox: SandboxHandle) -> None:
    sandbox.faults(fail_next=1, status=500, path_prefixes=["/oauth2/"])
    response = sandbox.http.post("/oauth2/token", data=token_form())
    assert response.status_code == 500 and response.json()["maLoi"] == "LOI_HE_THONG"


def test_fault_rates_follow_the_seed(sandbox: SandboxHandle, token: str) -> None:
    def run() -> list[int]:
        sandbox.faults(error_500_rate=0.3, error_503_rate=0.2, seed=42)
        return [sandbox.http.get(FEED, params={"gioiHan": 1}, headers=bearer(token)).status_code for _ in range(30)]

    statuses = run()
    assert set(statuses) == {200, 500, 503}
    assert run() == statuses


def test_fault_settings_are_validated(sandbox: SandboxHandle) -> None:
    response = sandbox.http.put("/_sandbox/faults", json={"error_500_rate": 0.8, "hang_rate": 0.5})
    assert response.status_code == 400 and response.json()["maLoi"] == "DU_LIEU_KHONG_HOP_LE"
    assert sandbox.http.put("/_sandbox/faults", json={"bogus": 1}).status_code == 400
    assert sandbox.http.put("/_sandbox/faults", json={"status": 418}).status_code == 400
    patched = sandbox.http.patch("/_sandbox/faults", json={"hang_seconds": 2})
    assert patched.status_code == 200 and patched.json()["hang_seconds"] == 2


def test_a_lost_answer_cuts_the_connection_after_the_action(sandbox: SandboxHandle, token: str) -> None:
    body = valid_body(sandbox, token)
    sandbox.faults(sequence=["lost_answer"])
    with pytest.raises(httpx.RemoteProtocolError):
        create(sandbox, token, body, Idempotency_Key="lost-1")
    assert [d["maHoSoTinh"] for d in sandbox.all_dossiers()] == [body["maHoSoTinh"]]
    entry = sandbox.requests(CREATE)[-1]
    assert (entry["status"], entry["answered"], entry["fault"]) == (201, False, "lost_answer")


def test_the_request_log_records_what_arrived(sandbox: SandboxHandle, token: str) -> None:
    create(sandbox, token, valid_body(sandbox, token), Idempotency_Key="abc")
    entries = sandbox.requests(CREATE)
    assert [(e["method"], e["idempotency_key"], e["status"], e["client_id"]) for e in entries] == [
        ("POST", "abc", 201, "sandbox-client")
    ]
    assert sandbox.requests("/_sandbox") == []  # the sandbox's own endpoints are not logged


def test_the_request_log_times_each_call_and_says_what_the_rate_limit_made_of_it() -> None:
    """What bench/pace.py counts the gateway's pacing by: arrival times on the sandbox's clock, and which
    calls took a token of the §7 bucket, which were refused 429, which never reached it."""
    now = [100.0]
    config = SandboxConfig(rate_limit=RateLimitSettings(rate_per_second=1.0, burst=2))
    app = create_app(config, clock=Clock(monotonic=lambda: now[0]))
    with run_server(app) as base_url:
        sandbox = SandboxHandle(app, base_url)
        try:
            token = sandbox.token()
            statuses = [sandbox.http.get(FEED, params={"gioiHan": 1}, headers=bearer(token)).status_code
                        for _ in range(3)]
            now[0] += 1.25
            statuses.append(sandbox.http.get(FEED, params={"gioiHan": 1}, headers=bearer(token)).status_code)
            statuses.append(sandbox.http.get(FEED, params={"gioiHan": 1}, headers=bearer("bad")).status_code)
            sandbox.faults(sequence=["error_500"])
            statuses.append(sandbox.http.get(FEED, params={"gioiHan": 1}, headers=bearer(token)).status_code)
            entries = sandbox.requests()
        finally:
            sandbox.close()
    assert statuses == [200, 200, 429, 200, 401, 500]
    assert [(e["path"], e["at_s"], e["rate_limit"]) for e in entries] == [
        ("/oauth2/token", 100.0, None),
        (FEED, 100.0, "admitted"), (FEED, 100.0, "admitted"), (FEED, 100.0, "refused"),
        (FEED, 101.25, "admitted"),
        (FEED, 101.25, None),  # a bad token never reaches the bucket
        (FEED, 101.25, None),  # nor does an injected fault
    ]


def test_the_officer_page_lists_the_queue_with_files_and_forms(sandbox: SandboxHandle, token: str) -> None:
    body = valid_body(sandbox, token, doiTuong__hoTen="Lê <b>Thị</b> Mai")
    dossier_id = create(sandbox, token, body).json()["id"]
    page = sandbox.http.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert re.search(r'<meta http-equiv="refresh" content="\d+">', html)
    assert "<script" not in html and "Lê &lt;b&gt;Thị&lt;/b&gt; Mai" in html
    assert body["maHoSoTinh"] in html and "tep.pdf" in html
    assert f'action="/_sandbox/ho-so/{dossier_id}/hanh-dong"' in html
    pending = sandbox.http.get("/_sandbox/cho-tiep-nhan").json()
    assert pending["count"] == 1 and pending["hoSo"][0]["thanhPhanHoSo"][0]["tepTin"][0]["tenTep"] == "tep.pdf"
    file_id = pending["hoSo"][0]["thanhPhanHoSo"][0]["tepTinIds"][0]
    assert sandbox.http.get(f"/_sandbox/tep-tin/{file_id}").content.startswith(b"%PDF-")

    moved = sandbox.http.post(f"/_sandbox/ho-so/{dossier_id}/hanh-dong",
                              data={"trangThai": "DA_TIEP_NHAN", "canBo": "can.bo.web"})
    assert moved.status_code == 303 and moved.headers["location"] == "/"
    assert sandbox.pending() == []
    assert sandbox.all_dossiers()[0]["canBo"] == "can.bo.web"


def test_reset_forgets_everything(sandbox: SandboxHandle, token: str) -> None:
    create(sandbox, token, valid_body(sandbox, token))
    sandbox.faults(fail_next=5)
    sandbox.reset()
    assert sandbox.all_dossiers() == [] and sandbox.requests() == []
    assert sandbox.http.get("/_sandbox/faults").json()["fail_next"] == 0
    assert sandbox.http.get(FEED, params={"gioiHan": 1}, headers=bearer(token)).status_code == 401


def test_the_default_file_limit_is_20_mib(sandbox: SandboxHandle, token: str) -> None:
    head = sample_pdf_bytes() + b"%"
    exactly = head + b"x" * (20 * 1024 * 1024 - len(head))
    assert sandbox.upload(token, exactly).status_code == 201
    over = sandbox.upload(token, exactly + b"x")
    assert (over.status_code, over.json()["maLoi"]) == (413, "TEP_QUA_LON")


async def test_concurrent_repeats_of_one_key_make_one_dossier(sandbox: SandboxHandle, token: str) -> None:
    body = valid_body(sandbox, token)
    async with httpx.AsyncClient(base_url=sandbox.base_url) as client:
        answers = await asyncio.gather(*(
            client.post(CREATE, headers=bearer(token, Idempotency_Key="same"), json=body) for _ in range(6)
        ))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert sorted(a.headers.get("idempotent-replayed", "false") for a in answers) == ["false"] + ["true"] * 5
    assert len(sandbox.all_dossiers()) == 1


def test_one_officer_action_moves_every_pending_dossier(sandbox: SandboxHandle, token: str) -> None:
    ids = [create(sandbox, token, valid_body(sandbox, token, maHoSoTinh=f"000.00.12.H56-240115-{n:04d}")).json()["id"]
           for n in (1, 2, 3)]
    before = sandbox.http.get("/_sandbox/summary").json()
    assert before["hoSo"] == {"cho-tiep-nhan": {"CHO_TIEP_NHAN": 3}} and before["soThayDoi"] == 3

    refused = sandbox.http.post("/_sandbox/cho-tiep-nhan/hanh-dong", json={"trangThai": "DA_PHE_DUYET"})
    assert refused.status_code == 409 and refused.json()["maLoi"] == "TRANG_THAI_KHONG_PHU_HOP"
    first = sandbox.http.post("/_sandbox/cho-tiep-nhan/hanh-dong", params={"limit": 2},
                              json={"trangThai": "DA_TIEP_NHAN", "canBo": "can.bo.lo"})
    assert first.json() == {"trangThai": "DA_TIEP_NHAN", "soHoSo": 2}
    rest = sandbox.http.post("/_sandbox/cho-tiep-nhan/hanh-dong", json={"trangThai": "DA_TIEP_NHAN"})
    assert rest.json()["soHoSo"] == 1
    assert sandbox.http.post("/_sandbox/cho-tiep-nhan/hanh-dong", json={"trangThai": "DA_TIEP_NHAN"}
                             ).json()["soHoSo"] == 0

    after = sandbox.http.get("/_sandbox/summary").json()
    assert after["hoSo"] == {"cho-tiep-nhan": {"DA_TIEP_NHAN": 3}} and after["soThayDoi"] == 6
    feed = sandbox.http.get(FEED, params={"gioiHan": 10}, headers=bearer(token)).json()
    moved = [c for c in feed["thayDoi"] if c["trangThai"] == "DA_TIEP_NHAN"]
    assert [c["id"] for c in moved] == ids
    assert [c["canBo"] for c in moved] == ["can.bo.lo", "can.bo.lo", codes.DEFAULT_OFFICER]
