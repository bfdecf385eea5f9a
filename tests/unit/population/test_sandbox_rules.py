"""The population sandbox's comparison rules (population-api §2), through its HTTP route and as pure functions.

Each test states one rule: what is KHOP, what is SAI_LECH (and which fields it names), what is unknown,
what a dead person's answer carries, and that anything the contract does not describe is a 400.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest

from adapters.population.sandbox.matching import compare, dates_agree, name_key
from tests.unit.population.conftest import Sandbox

HOA = {"soDinhDanh": "038141001234", "hoTen": "Nguyễn Thị Hoa", "ngaySinh": "1941-03-02", "gioiTinh": "NU"}
THANH = {"soDinhDanh": "038038002468", "hoTen": "Lê Văn Thành", "ngaySinh": "1938-07-15", "gioiTinh": "NAM"}
LAN = {"soDinhDanh": "038130005678", "hoTen": "Phạm Thị Lan", "ngaySinh": "1930", "gioiTinh": "NU"}


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def but(person: dict[str, str], **changes: Any) -> dict[str, Any]:
    return {**person, **changes}


# ---- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Nguyễn Thị Hoa", "nguyễn thị hoa", "NGUYỄN THỊ HOA", "  Nguyễn   Thị\tHoa  ",
                                  "Nguyễn\u00a0Thị Hoa"])
def test_a_name_in_nfc_matches_whatever_its_case_and_spaces(sandbox: Sandbox, name: str) -> None:
    status, answer = sandbox.verify(but(HOA, hoTen=name))
    assert status == 200
    assert (answer["ketQua"], answer["truongSaiLech"], answer["daMat"]) == ("KHOP", [], False)
    assert "ngayMat" not in answer


@pytest.mark.parametrize("name", ["Nguyễn Thị Hoa", "nguyễn  THỊ hoa"])
def test_a_name_in_nfd_does_not_match(sandbox: Sandbox, name: str) -> None:
    assert nfd(name) != name  # the test means something: the two forms differ
    status, answer = sandbox.verify(but(HOA, hoTen=nfd(name)))
    assert status == 200
    assert (answer["ketQua"], answer["truongSaiLech"]) == ("SAI_LECH", ["hoTen"])


def test_another_name_does_not_match(sandbox: Sandbox) -> None:
    _, answer = sandbox.verify(but(HOA, hoTen="Nguyễn Thị Hòa"))
    assert (answer["ketQua"], answer["truongSaiLech"]) == ("SAI_LECH", ["hoTen"])


# ---- birth dates --------------------------------------------------------------------------------


@pytest.mark.parametrize(("sent", "ok"), [("1941-03-02", True), ("1941-03", True), ("1941", True),
                                          ("1941-03-03", False), ("1941-04", False), ("1942", False)])
def test_a_partial_birth_date_matches_at_its_precision(sandbox: Sandbox, sent: str, ok: bool) -> None:
    _, answer = sandbox.verify(but(HOA, ngaySinh=sent))
    assert (answer["ketQua"], answer["truongSaiLech"]) == (("KHOP", []) if ok else ("SAI_LECH", ["ngaySinh"]))


@pytest.mark.parametrize(("sent", "ok"), [("1930", True), ("1930-05", True), ("1930-05-06", True),
                                          ("1931-05-06", False), ("1929", False)])
def test_a_birth_date_recorded_to_the_year_agrees_with_any_date_of_that_year(sandbox: Sandbox, sent: str,
                                                                             ok: bool) -> None:
    _, answer = sandbox.verify(but(LAN, ngaySinh=sent))
    assert answer["ketQua"] == ("KHOP" if ok else "SAI_LECH")


# ---- several fields, gender, unknown, dead --------------------------------------------------------


def test_every_disagreeing_field_is_listed_in_the_contracts_order(sandbox: Sandbox) -> None:
    _, answer = sandbox.verify(but(HOA, hoTen="Trần Văn Nam", ngaySinh="1975", gioiTinh="NAM"))
    assert (answer["ketQua"], answer["truongSaiLech"]) == ("SAI_LECH", ["hoTen", "ngaySinh", "gioiTinh"])
    _, answer = sandbox.verify(but(HOA, gioiTinh="NAM"))
    assert answer["truongSaiLech"] == ["gioiTinh"]


def test_an_unknown_id_is_not_found(sandbox: Sandbox) -> None:
    status, answer = sandbox.verify(but(HOA, soDinhDanh="038141009999"))
    assert status == 200
    assert (answer["ketQua"], answer["truongSaiLech"], answer["daMat"]) == ("KHONG_TIM_THAY", [], False)
    assert answer["maYeuCau"]


def test_a_person_recorded_dead_is_said_so_with_the_date(sandbox: Sandbox) -> None:
    _, answer = sandbox.verify(THANH)
    assert (answer["ketQua"], answer["daMat"], answer["ngayMat"]) == ("KHOP", True, "2024-09-28")
    _, answer = sandbox.verify(but(THANH, ngaySinh="1938-07-16"))
    assert (answer["ketQua"], answer["truongSaiLech"], answer["daMat"]) == ("SAI_LECH", ["ngaySinh"], True)


def test_the_answer_carries_nothing_beyond_the_contracts_fields(sandbox: Sandbox) -> None:
    _, answer = sandbox.verify(THANH)
    assert set(answer) == {"maYeuCau", "ketQua", "truongSaiLech", "daMat", "ngayMat"}
    _, again = sandbox.verify(THANH)
    assert again["maYeuCau"] != answer["maYeuCau"]


# ---- strict: 400 DU_LIEU_KHONG_HOP_LE in the ministry-api §2 shape -----------------------------------


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (but(HOA, queQuan="Thanh Hóa"), {"queQuan"}),
        ({k: v for k, v in HOA.items() if k != "gioiTinh"}, {"gioiTinh"}),
        ({}, {"soDinhDanh", "hoTen", "ngaySinh", "gioiTinh"}),
        (but(HOA, hoTen=None), {"hoTen"}),
        (but(HOA, hoTen="   "), {"hoTen"}),
        (but(HOA, hoTen="A" * 256), {"hoTen"}),
        (but(HOA, soDinhDanh=38141001234), {"soDinhDanh"}),
        (but(HOA, soDinhDanh="03814100123"), {"soDinhDanh"}),
        (but(HOA, soDinhDanh="０３８１４１００１２３４"), {"soDinhDanh"}),  # fullwidth digits are not digits here
        (but(HOA, ngaySinh="02/03/1941"), {"ngaySinh"}),
        (but(HOA, ngaySinh="1941-02-30"), {"ngaySinh"}),
        (but(HOA, ngaySinh="1941-13"), {"ngaySinh"}),
        (but(HOA, ngaySinh="1941-03-02T00:00:00"), {"ngaySinh"}),
        (but(HOA, gioiTinh="F"), {"gioiTinh"}),
        (but(HOA, gioiTinh="nu"), {"gioiTinh"}),
    ],
)
def test_what_the_contract_does_not_describe_is_refused_field_by_field(
    sandbox: Sandbox, body: dict[str, Any], fields: set[str]
) -> None:
    status, answer = sandbox.verify(body)
    assert status == 400
    assert answer["maLoi"] == "DU_LIEU_KHONG_HOP_LE" and answer["thongDiep"]
    assert {d["truong"] for d in answer["chiTiet"]} == fields
    assert all(d["thongDiep"] for d in answer["chiTiet"])
    assert "038141001234" not in str(answer) and "Hoa" not in str(answer)  # the faults never echo the data


@pytest.mark.parametrize(
    ("content", "content_type"),
    [(b"not json", "application/json"), (b'["a"]', "application/json"),
     (b'{"soDinhDanh": "038141001234", "soDinhDanh": "038141001234"}', "application/json"),
     (b'{"soDinhDanh": NaN}', "application/json"), (b"soDinhDanh=038141001234", "application/x-www-form-urlencoded"),
     (b'{"hoTen": "\xff"}', "application/json")],
)
def test_a_body_that_is_not_one_json_object_is_refused(sandbox: Sandbox, content: bytes, content_type: str) -> None:
    response = sandbox.http.post("/api/v1/cong-dan/xac-thuc", content=content,
                                 headers={**sandbox.headers, "Content-Type": content_type})
    assert response.status_code == 400 and response.json()["maLoi"] == "DU_LIEU_KHONG_HOP_LE"


def test_a_query_string_is_refused(sandbox: Sandbox) -> None:
    response = sandbox.http.post("/api/v1/cong-dan/xac-thuc?debug=1", json=HOA, headers=sandbox.headers)
    assert response.status_code == 400 and response.json()["chiTiet"][0]["truong"] == "debug"


# ---- auth ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "Bearer nope", "Basic c2FuZGJveA==", "Bearer "])
def test_without_a_valid_token_it_is_401(sandbox: Sandbox, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = sandbox.http.post("/api/v1/cong-dan/xac-thuc", json=HOA, headers=headers)
    assert response.status_code == 401 and response.json() == {"error": "invalid_token"}


def test_an_expired_token_is_401(sandbox: Sandbox) -> None:
    assert sandbox.http.post("/_sandbox/expire-tokens").json() == {"expired": 1}
    status, answer = sandbox.verify(HOA)
    assert (status, answer) == (401, {"error": "invalid_token"})


def test_the_token_is_for_the_population_scope_only(sandbox: Sandbox) -> None:
    response = sandbox.http.post("/oauth2/token", data={"grant_type": "client_credentials",
                                                        "client_id": "sandbox-client",
                                                        "client_secret": "sandbox-secret", "scope": "tgxh.hoso"})
    assert response.status_code == 400 and response.json() == {"error": "invalid_scope"}
    wrong = sandbox.http.post("/oauth2/token", data={"grant_type": "client_credentials", "client_id": "sandbox-client",
                                                     "client_secret": "wrong", "scope": "dancu.xacthuc"})
    assert wrong.status_code == 401 and wrong.json() == {"error": "invalid_client"}


# ---- pure rules ---------------------------------------------------------------------------------------


def test_the_pure_rules() -> None:
    assert name_key("  Nguyễn   THỊ hoa ") == name_key("Nguyễn Thị Hoa")
    assert name_key(nfd("Nguyễn Thị Hoa")) != name_key("Nguyễn Thị Hoa")
    assert dates_agree("1941-03", "1941-03-02") and dates_agree("1941-03-02", "1941")
    assert not dates_agree("1941-04", "1941-03-02") and not dates_agree("1941-02-30", "1941")
    assert compare(HOA, None) == ("KHONG_TIM_THAY", [])
    # A record seeded in NFD is compared as the database would hold it: NFC.
    assert compare(HOA, {**HOA, "hoTen": nfd(HOA["hoTen"])}) == ("KHOP", [])
