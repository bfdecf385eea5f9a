"""The province sandbox over a real socket: signed callbacks (province-api.md §4), faults, posting samples.

One sandbox and one fake gateway run under uvicorn for the module; the sandbox is reset before
each test.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from starlette.responses import JSONResponse

from adapters.common.signing import sign
from adapters.province.sandbox.app import create_app
from adapters.province.sandbox.config import ProvinceSandboxConfig
from tests.support.servers import run_server

SECRET = "contract-callback-secret"
API_KEY = "contract-province-key"
CODE = "000.00.12.H56-240115-0001"
OMIT = object()


# --- a fake gateway that records what the sandbox posts ---------------------------------------------


@dataclass
class Received:
    """What the fake gateway got: headers, and the dossier with its files in either encoding."""

    authorization: str | None
    content_type: str
    dossier: dict[str, Any]
    files: dict[str, tuple[str | None, bytes]] = field(default_factory=dict)


def fake_gateway(received: list[Received]) -> FastAPI:
    """``POST /api/v1/dossiers`` answering 202 like the gateway, keeping every request in ``received``."""
    app = FastAPI()
    lock = threading.Lock()

    @app.post("/api/v1/dossiers")
    async def intake(request: Request) -> JSONResponse:
        content_type = request.headers.get("content-type", "")
        files: dict[str, tuple[str | None, bytes]] = {}
        if content_type.startswith("multipart/form-data"):
            form = await request.form()
            dossier: dict[str, Any] = {}
            for name, value in form.multi_items():
                if name == "hoso":  # a plain field (no filename) in what the client sends
                    dossier = json.loads(value if isinstance(value, str) else await value.read())
                elif not isinstance(value, str):
                    files[name] = (value.filename, await value.read())
        else:
            dossier = json.loads(await request.body())
        with lock:
            received.append(Received(request.headers.get("authorization"), content_type, dossier, files))
        code = dossier.get("MaHoSo")
        return JSONResponse({"id": "fake-1", "MaHoSo": code, "revision": 1, "state": "queued",
                             "links": {"self": f"/api/v1/dossiers/{code}"}}, status_code=202)

    return app


@dataclass
class Env:
    """The running servers: the sandbox's app and URL, and what the fake gateway received."""

    app: FastAPI
    url: str
    gateway_url: str
    received: list[Received]


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    received: list[Received] = []
    with run_server(fake_gateway(received)) as gateway_url:
        config = ProvinceSandboxConfig(callback_secret=SECRET, gateway_url=gateway_url, api_key=API_KEY,
                                       post_timeout_s=5)
        app = create_app(config)
        with run_server(app) as url:
            yield Env(app, url, gateway_url, received)


@pytest.fixture
def sandbox(env: Env) -> Iterator[httpx.Client]:
    """A client of the shared sandbox, reset (nothing received, no fault) for this test."""
    env.received.clear()
    with httpx.Client(base_url=env.url, timeout=5) as client:
        assert client.post("/_sandbox/reset").status_code == 200
        yield client


# --- callbacks ------------------------------------------------------------------------------------


def callback(**overrides: Any) -> dict[str, Any]:
    """A valid callback body of §4 with a fresh EventId."""
    body: dict[str, Any] = {
        "EventId": str(uuid.uuid4()),
        "MaHoSo": CODE,
        "SuKien": "DA_CHUYEN_BO",
        "TrangThaiHoSo": 2,
        "TrangThaiBo": "CHO_TIEP_NHAN",
        "MaHoSoBo": "HS-2024-000123",
        "ThoiDiem": "20240115083512",
        "NoiDung": "Hồ sơ đã được chuyển vào mục Hồ sơ chờ tiếp nhận.",
        "QuyetDinh": None,
    }
    body.update(overrides)
    return body


def send(
    client: httpx.Client,
    body: Any,
    *,
    secret: str = SECRET,
    at: float | None = None,
    signature: Any = None,
    event_id: Any = None,
    timeout: float | None = None,
) -> httpx.Response:
    """POST ``body`` to /callbacks as the gateway does: raw JSON bytes, signed, with the event id header."""
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if event_id is not OMIT:
        headers["X-Gateway-Event-Id"] = event_id or (body.get("EventId") if isinstance(body, dict) else "x")
    if signature is not OMIT:
        headers["X-Gateway-Signature"] = signature or sign(secret, raw, int(at if at is not None else time.time()))
    kwargs: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
    return client.post("/callbacks", content=raw, headers=headers, **kwargs)


def recorded(client: httpx.Client, code: str | None = None) -> dict[str, Any]:
    params = {"MaHoSo": code} if code else None
    answer = client.get("/_sandbox/callbacks", params=params)
    assert answer.status_code == 200
    data: dict[str, Any] = answer.json()
    return data


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    return body


def test_valid_callback_is_accepted_and_listed(sandbox: httpx.Client) -> None:
    body = callback()
    answer = send(sandbox, body)
    assert answer.status_code == 200
    assert answer.json() == {"received": True, "EventId": body["EventId"], "duplicate": False}

    listed = recorded(sandbox, CODE)
    assert listed["count"] == 1
    entry = listed["callbacks"][0]
    assert {k: entry[k] for k in body} == body
    assert entry["signature_ok"] is True
    assert entry["out_of_order"] is False
    assert entry["warnings"] == []
    assert recorded(sandbox, "000.00.12.H56-240115-9999")["count"] == 0


def test_every_event_kind_is_accepted(sandbox: httpx.Client) -> None:
    decision = {"SoQuyetDinh": "123/QĐ-UBND", "NgayQuyetDinh": "20240201", "MucHuongThang": 500000,
                "ThangBatDauHuong": "02/2024"}
    bodies = [
        callback(ThoiDiem="20240115083512"),
        callback(SuKien="CAP_NHAT_TRANG_THAI", TrangThaiHoSo=9, TrangThaiBo="DA_PHE_DUYET", ThoiDiem="20240201090000",
                 QuyetDinh=decision),
        callback(SuKien="LOI_DONG_BO", TrangThaiHoSo=None, TrangThaiBo=None, MaHoSoBo=None,
                 NoiDung="Bộ từ chối: thiếu tờ khai.", ThoiDiem="20240202090000"),
    ]
    for body in bodies:
        assert send(sandbox, body).status_code == 200
    listed = recorded(sandbox, CODE)["callbacks"]
    assert [c["SuKien"] for c in listed] == ["DA_CHUYEN_BO", "CAP_NHAT_TRANG_THAI", "LOI_DONG_BO"]
    assert listed[1]["QuyetDinh"] == decision


def test_forged_signature_is_refused(sandbox: httpx.Client) -> None:
    response = send(sandbox, callback(), secret="not-the-secret")
    assert_problem(response, 401, "signature_mismatch")
    assert recorded(sandbox)["count"] == 0


def test_body_changed_after_signing_is_refused(sandbox: httpx.Client) -> None:
    body = callback()
    raw = json.dumps(body).encode()
    header = sign(SECRET, raw, int(time.time()))
    response = sandbox.post("/callbacks", content=raw.replace(b"CHO_TIEP_NHAN", b"DA_TIEP_NHAN"),
                            headers={"Content-Type": "application/json", "X-Gateway-Event-Id": body["EventId"],
                                     "X-Gateway-Signature": header})
    assert_problem(response, 401, "signature_mismatch")


def test_stale_signature_is_refused(sandbox: httpx.Client) -> None:
    response = send(sandbox, callback(), at=time.time() - 360)
    assert_problem(response, 401, "signature_stale")
    assert recorded(sandbox)["count"] == 0


def test_signature_from_the_future_is_refused(sandbox: httpx.Client) -> None:
    assert_problem(send(sandbox, callback(), at=time.time() + 360), 401, "signature_stale")


def test_missing_signature_is_refused(sandbox: httpx.Client) -> None:
    assert_problem(send(sandbox, callback(), signature=OMIT), 401, "signature_missing")


def test_malformed_signature_is_refused(sandbox: httpx.Client) -> None:
    assert_problem(send(sandbox, callback(), signature="sha256=abc"), 401, "signature_malformed")


def test_refusals_are_in_the_attempt_log(sandbox: httpx.Client) -> None:
    body = callback()
    send(sandbox, body, signature=OMIT)
    send(sandbox, body)
    attempts = sandbox.get("/_sandbox/attempts").json()["attempts"]
    assert [(a["status"], a["outcome"]) for a in attempts] == [(401, "signature_missing"), (200, "accepted")]
    assert recorded(sandbox)["totals"]["refused"] == 1


def test_duplicate_event_id_is_answered_but_recorded_once(sandbox: httpx.Client) -> None:
    body = callback()
    first, second = send(sandbox, body), send(sandbox, body)
    assert first.status_code == second.status_code == 200
    assert second.json()["duplicate"] is True
    listed = recorded(sandbox)
    assert listed["count"] == 1
    assert listed["callbacks"][0]["duplicates"] == 1
    assert listed["callbacks"][0]["duplicate_body_differs"] is False
    assert listed["totals"]["duplicates"] == 1


def test_same_event_id_with_another_body_is_flagged(sandbox: httpx.Client) -> None:
    body = callback()
    send(sandbox, body)
    assert send(sandbox, {**body, "NoiDung": "khác"}).status_code == 200
    entry = recorded(sandbox)["callbacks"][0]
    assert entry["NoiDung"] == body["NoiDung"]
    assert entry["duplicate_body_differs"] is True


def test_event_id_header_must_match_the_body(sandbox: httpx.Client) -> None:
    problem = assert_problem(send(sandbox, callback(), event_id=str(uuid.uuid4())), 400, "invalid_callback")
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [("X-Gateway-Event-Id", "event_id_mismatch")]
    problem = assert_problem(send(sandbox, callback(), event_id=OMIT), 400, "invalid_callback")
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [("X-Gateway-Event-Id", "required")]
    assert recorded(sandbox)["count"] == 0


def test_malformed_body_is_refused_naming_every_field(sandbox: httpx.Client) -> None:
    body = callback(SuKien="DA_NHAN", TrangThaiHoSo="2", ThoiDiem="2024-01-15 08:35:12", QuyetDinh="none",
                    Extra=1)
    del body["NoiDung"]
    problem = assert_problem(send(sandbox, body), 400, "invalid_callback")
    faults = {(e["field"], e["code"]) for e in problem["errors"]}
    assert faults == {
        ("SuKien", "invalid_value"),
        ("TrangThaiHoSo", "invalid_type"),
        ("ThoiDiem", "invalid_timestamp"),
        ("QuyetDinh", "invalid_type"),
        ("Extra", "unknown_field"),
        ("NoiDung", "required"),
    }
    assert all(e["message"] for e in problem["errors"])
    assert recorded(sandbox)["count"] == 0


def test_rules_of_each_event_kind(sandbox: httpx.Client) -> None:
    failed = callback(SuKien="LOI_DONG_BO", TrangThaiHoSo=2, NoiDung=None)
    faults = {(e["field"], e["code"]) for e in send(sandbox, failed).json()["errors"]}
    assert faults == {("TrangThaiHoSo", "must_be_null"), ("NoiDung", "required")}

    delivered = callback(TrangThaiHoSo=None, MaHoSoBo=None, TrangThaiBo=None, EventId="not-a-uuid")
    faults = {(e["field"], e["code"]) for e in send(sandbox, delivered, event_id="not-a-uuid").json()["errors"]}
    assert faults == {("TrangThaiHoSo", "required"), ("MaHoSoBo", "required"), ("TrangThaiBo", "required"),
                      ("EventId", "invalid_uuid")}

    mismatch = callback(SuKien="SAI_LECH_DAN_CU", TrangThaiHoSo=None, TrangThaiBo=None, MaHoSoBo=None,
                        SaiLech=["DuLieuToKhai.NgaySinh"])
    assert send(sandbox, mismatch).status_code == 200
    valued = callback(SuKien="SAI_LECH_DAN_CU", TrangThaiHoSo=2, TrangThaiBo=None, MaHoSoBo=None,
                      SaiLech=["02/03/1941"])
    faults = {(e["field"], e["code"]) for e in send(sandbox, valued).json()["errors"]}
    assert faults == {("TrangThaiHoSo", "must_be_null"), ("SaiLech", "invalid_value")}
    missing = callback(SuKien="SAI_LECH_DAN_CU", TrangThaiHoSo=None, TrangThaiBo=None, MaHoSoBo=None)
    assert {(e["field"], e["code"]) for e in send(sandbox, missing).json()["errors"]} == {("SaiLech", "required")}
    stray = callback(SaiLech=["DuLieuToKhai.NgaySinh"])  # only SAI_LECH_DAN_CU carries it
    assert {(e["field"], e["code"]) for e in send(sandbox, stray).json()["errors"]} == {("SaiLech", "unknown_field")}

    unknown = callback(TrangThaiHoSo=42, ThoiDiem="20241341250000")
    faults = {(e["field"], e["code"]) for e in send(sandbox, unknown).json()["errors"]}
    assert faults == {("TrangThaiHoSo", "unknown_status"), ("ThoiDiem", "invalid_timestamp")}


def test_not_json_is_refused(sandbox: httpx.Client) -> None:
    raw = b"{not json"
    headers = {"Content-Type": "application/json", "X-Gateway-Event-Id": "x",
               "X-Gateway-Signature": sign(SECRET, raw, int(time.time()))}
    problem = assert_problem(sandbox.post("/callbacks", content=raw, headers=headers), 400, "invalid_callback")
    assert problem["errors"][0]["field"] == "$"
    for value in (None, [callback()], "text"):
        problem = assert_problem(send(sandbox, value), 400, "invalid_callback")
        assert [(e["field"], e["code"]) for e in problem["errors"]] == [("$", "invalid_type")]
    form = sandbox.post("/callbacks", data={"EventId": "x"})
    assert_problem(form, 415, "unsupported_media_type")


def test_oversized_body_is_refused(sandbox: httpx.Client) -> None:
    body = callback(NoiDung="x" * 300_000)
    assert_problem(send(sandbox, body), 413, "too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
        yield b'{"NoiDung":"'
        for _ in range(40):
            yield b"x" * 10_000
        yield b'"}'

    headers = {"Content-Type": "application/json", "X-Gateway-Event-Id": "x", "X-Gateway-Signature": "t=1,v1=00"}
    assert_problem(sandbox.post("/callbacks", content=chunks(), headers=headers), 413, "too_large")


def test_status_inconsistent_with_the_table_is_accepted_with_a_warning(sandbox: httpx.Client) -> None:
    assert send(sandbox, callback(SuKien="CAP_NHAT_TRANG_THAI", TrangThaiHoSo=2, TrangThaiBo="DA_PHE_DUYET"))\
        .status_code == 200
    [entry] = recorded(sandbox)["callbacks"]
    assert entry["warnings"] == ["TrangThaiHoSo 2 but the table maps DA_PHE_DUYET to 9"]


def test_out_of_order_arrival_is_flagged(sandbox: httpx.Client) -> None:
    send(sandbox, callback(SuKien="CAP_NHAT_TRANG_THAI", TrangThaiHoSo=4, TrangThaiBo="DA_TIEP_NHAN",
                           ThoiDiem="20240116090000"))
    send(sandbox, callback(ThoiDiem="20240115083512"))  # delivered-event, although it happened first
    send(sandbox, callback(MaHoSo="000.00.12.H56-240115-0002", ThoiDiem="20240101000000"))  # another dossier
    listed = recorded(sandbox)
    assert [c["out_of_order"] for c in listed["callbacks"]] == [False, True, False]
    assert listed["totals"]["out_of_order"] == 1
    assert listed["callbacks"][1]["warnings"] == [
        "DA_CHUYEN_BO after a CAP_NHAT_TRANG_THAI for this dossier (a supplement, or events sent out of order)"]


# --- faults ---------------------------------------------------------------------------------------


def test_fail_next_then_recovery(sandbox: httpx.Client) -> None:
    faults = sandbox.put("/_sandbox/faults", json={"fail_next": 2, "status": 503, "retry_after": 1})
    assert faults.status_code == 200
    body = callback()
    for _ in range(2):
        failed = send(sandbox, body)
        assert_problem(failed, 503, "injected_fail_next")
        assert failed.headers["Retry-After"] == "1"
    assert sandbox.get("/_sandbox/faults").json()["fail_next"] == 0
    assert send(sandbox, body).status_code == 200
    assert recorded(sandbox)["count"] == 1
    outcomes = [a["outcome"] for a in sandbox.get("/_sandbox/attempts").json()["attempts"]]
    assert outcomes == ["injected_fail_next", "injected_fail_next", "accepted"]


def test_down_for_a_while_then_back(sandbox: httpx.Client) -> None:
    assert sandbox.put("/_sandbox/faults", json={"down": True}).json()["down"] is True
    body = callback()
    assert_problem(send(sandbox, body), 503, "injected_down")
    assert_problem(send(sandbox, body), 503, "injected_down")
    assert sandbox.get("/").status_code == 503
    assert sandbox.get("/_sandbox/health").status_code == 200  # the control plane stays up
    assert recorded(sandbox)["count"] == 0

    assert sandbox.put("/_sandbox/faults", json={}).json()["down"] is False
    assert send(sandbox, body).status_code == 200
    assert recorded(sandbox)["count"] == 1
    assert sandbox.get("/").status_code == 200


def test_patch_changes_only_the_given_faults(sandbox: httpx.Client) -> None:
    sandbox.put("/_sandbox/faults", json={"fail_next": 5, "status": 500})
    patched = sandbox.patch("/_sandbox/faults", json={"retry_after": 2}).json()
    assert (patched["fail_next"], patched["status"], patched["retry_after"]) == (5, 500, 2)


def test_hang_holds_the_answer_after_recording(sandbox: httpx.Client) -> None:
    sandbox.put("/_sandbox/faults", json={"hang_s": 0.6})
    body = callback()
    with pytest.raises(httpx.ReadTimeout):
        send(sandbox, body, timeout=0.2)
    sandbox.put("/_sandbox/faults", json={})
    retried = send(sandbox, body)  # the gateway's retry, same EventId
    assert retried.json()["duplicate"] is True
    assert recorded(sandbox)["count"] == 1


def test_invalid_faults_are_refused(sandbox: httpx.Client) -> None:
    problem = assert_problem(sandbox.put("/_sandbox/faults", json={"fail_next": -1, "bogus": True}), 400,
                             "invalid_request")
    assert {e["field"] for e in problem["errors"]} == {"fail_next", "bogus"}
    assert_problem(sandbox.put("/_sandbox/faults", content=b"[]"), 400, "invalid_request")
    assert sandbox.get("/_sandbox/faults").json()["fail_next"] == 0


def test_reset_forgets_everything_and_clears_faults(sandbox: httpx.Client) -> None:
    send(sandbox, callback())
    sandbox.put("/_sandbox/faults", json={"down": True})
    assert sandbox.post("/_sandbox/reset").status_code == 200
    assert recorded(sandbox)["count"] == 0
    assert sandbox.get("/_sandbox/attempts").json()["count"] == 0
    assert sandbox.get("/_sandbox/faults").json()["down"] is False


# --- the page -------------------------------------------------------------------------------------


def test_page_lists_callbacks_escaped(sandbox: httpx.Client) -> None:
    send(sandbox, callback(MaHoSo="000.00.12.H56-240115-<b>", NoiDung="<script>alert(1)</script>"))
    page = sandbox.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<meta http-equiv="refresh" content="3">' in html
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "000.00.12.H56-240115-&lt;b&gt;" in html
    assert "CHO_TIEP_NHAN" in html and "Được tiếp nhận" in html
    assert 'action="/_sandbox/post"' in html


# --- posting samples to the gateway ---------------------------------------------------------------


def test_post_sends_a_valid_multipart_dossier_with_its_files(sandbox: httpx.Client, env: Env) -> None:
    answer = sandbox.post("/_sandbox/post")
    assert answer.status_code == 200, answer.text
    posted = answer.json()
    assert posted["status"] == 202
    assert posted["body"]["state"] == "queued"
    assert posted["body"]["MaHoSo"] == posted["MaHoSo"]

    [got] = env.received
    assert got.authorization == f"Bearer {API_KEY}"
    assert got.content_type.startswith("multipart/form-data")
    assert got.dossier["MaHoSo"] == posted["MaHoSo"]
    assert got.dossier["MaTTHC"] == "1.001776"
    ids = [item["TepDinhKemId"] for item in got.dossier["TaiLieuNop"]]
    assert sorted(got.files) == sorted(ids)
    for item in got.dossier["TaiLieuNop"]:
        filename, data = got.files[item["TepDinhKemId"]]
        assert filename == item["TenTepDinhKem"]
        assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert got.dossier["NgayHenTra"] > got.dossier["NgayTiepNhan"]

    listed = sandbox.get("/_sandbox/posted").json()
    assert [p["MaHoSo"] for p in listed["posted"]] == [posted["MaHoSo"]]


def test_each_post_gets_a_fresh_code_unless_given(sandbox: httpx.Client, env: Env) -> None:
    codes = {sandbox.post("/_sandbox/post", json={}).json()["MaHoSo"] for _ in range(3)}
    assert len(codes) == 3
    given = sandbox.post("/_sandbox/post", json={"MaHoSo": "000.00.12.H56-240115-4242"}).json()
    assert given["MaHoSo"] == "000.00.12.H56-240115-4242"
    assert env.received[-1].dossier["MaHoSo"] == "000.00.12.H56-240115-4242"


def test_post_funeral_as_json_with_base64_files(sandbox: httpx.Client, env: Env) -> None:
    answer = sandbox.post("/_sandbox/post", json={"procedure": "funeral", "encoding": "json"})
    assert answer.status_code == 200, answer.text
    [got] = env.received
    assert got.content_type.startswith("application/json")
    assert got.authorization == f"Bearer {API_KEY}"
    assert got.dossier["MaTTHC"] == "1.001731"
    items = got.dossier["TaiLieuNop"]
    assert {i["MaThanhPhanHoSo"] for i in items} == {"TK_MAI_TANG", "TRICH_LUC_KHAI_TU"}
    assert all(base64.b64decode(i["NoiDungBase64"]).startswith(b"%PDF-") for i in items)


def test_post_options_are_checked(sandbox: httpx.Client, env: Env) -> None:
    problem = assert_problem(sandbox.post("/_sandbox/post", json={"procedure": "x", "encoding": "xml", "y": 1}),
                             400, "invalid_request")
    assert {e["field"] for e in problem["errors"]} == {"procedure", "encoding", "y"}
    assert env.received == []


def test_post_from_the_page_form_redirects_back(sandbox: httpx.Client, env: Env) -> None:
    answer = sandbox.post("/_sandbox/post", data={"procedure": "funeral", "encoding": "multipart"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    [got] = env.received
    assert got.dossier["MaTTHC"] == "1.001731"
    assert got.dossier["MaHoSo"] in sandbox.get("/").text


def test_post_logs_no_personal_data(sandbox: httpx.Client, env: Env, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        code = sandbox.post("/_sandbox/post", json={"encoding": "json"}).json()["MaHoSo"]
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert code in text
    dossier = env.received[0].dossier
    for personal in (dossier["DuLieuToKhai"]["HoTen"], dossier["DuLieuToKhai"]["SoDinhDanh"],
                     dossier["DuLieuToKhai"]["NgaySinh"], dossier["ChuHoSo"]["HoTen"],
                     dossier["ChuHoSo"]["SoDinhDanh"], dossier["ChuHoSo"]["SoDienThoai"]):
        assert personal not in text


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_post_to_an_unreachable_gateway_is_a_502() -> None:
    config = ProvinceSandboxConfig(gateway_url=f"http://127.0.0.1:{_closed_port()}", post_timeout_s=2)
    with run_server(create_app(config)) as url, httpx.Client(base_url=url, timeout=5) as client:
        problem = assert_problem(client.post("/_sandbox/post"), 502, "gateway_unreachable")
        assert problem["posted"]["status"] is None
        assert client.get("/_sandbox/posted").json()["count"] == 1


def test_signatures_can_be_recorded_instead_of_refused() -> None:
    config = ProvinceSandboxConfig(callback_secret=SECRET, verify_signatures=False)
    with run_server(create_app(config)) as url, httpx.Client(base_url=url, timeout=5) as client:
        assert send(client, callback(), secret="wrong").status_code == 200
        [entry] = recorded(client)["callbacks"]
        assert (entry["signature_ok"], entry["signature_problem"]) == (False, "mismatch")


def test_summary_counts_callbacks_per_event_and_dossier_without_listing_them(sandbox: httpx.Client) -> None:
    other = "000.00.12.H56-240115-0002"
    first = callback()
    for body in (first, callback(SuKien="CAP_NHAT_TRANG_THAI", TrangThaiHoSo=3, TrangThaiBo="DA_TIEP_NHAN",
                                 ThoiDiem="20240116090000"),
                 callback(MaHoSo=other)):
        assert send(sandbox, body).status_code == 200
    assert send(sandbox, first).json()["duplicate"] is True
    assert send(sandbox, callback(), secret="not-the-secret").status_code == 401
    summary = sandbox.get("/_sandbox/summary").json()
    assert summary["bySuKien"] == {"DA_CHUYEN_BO": 2, "CAP_NHAT_TRANG_THAI": 1}
    assert summary["dossiers"] == 2
    assert summary["totals"]["callbacks"] == 3 and summary["totals"]["duplicates"] == 1
    assert summary["totals"]["refused"] == 1
    sandbox.post("/_sandbox/reset")
    assert sandbox.get("/_sandbox/summary").json()["bySuKien"] == {}
