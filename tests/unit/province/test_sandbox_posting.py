"""The province sandbox posts a sample death notice (province-api.md §5) to a fake gateway (an httpx
MockTransport: no socket), in both encodings; its options are checked; its page offers it and names the
death notice's events."""

from __future__ import annotations

import base64
import json
from datetime import date
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from adapters.province.sandbox.app import create_app
from adapters.province.sandbox.config import ProvinceSandboxConfig
from adapters.province.sandbox.posting import PEOPLE, build_death_notice, post_sample
from adapters.province.sandbox.state import SandboxState
from adapters.province.sandbox.views import render
from mappings.death_notice import parse_death_notice
from tests.unit.mappings.helpers import facts

API_KEY = "unit-province-key"
NOW = 1_760_000_000.0  # 2025-10-09 in Vietnam: after the reform, codes in force


class FakeGateway:
    """Answers like the gateway's §5 intake and keeps what it received, decoded from either encoding."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        code = self.notice(request)["MaHoSoLienThong"]
        return httpx.Response(202, json={"id": "fake-1", "MaHoSoLienThong": code, "state": "queued",
                                         "links": {"self": f"/api/v1/death-notices/{code}"}})

    @staticmethod
    def parts(request: httpx.Request) -> dict[str, tuple[str | None, bytes]]:
        """The multipart parts by field name: (file name, bytes)."""
        head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + request.content)
        found = {}
        for part in message.iter_parts():
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found[str(part.get_param("name", header="content-disposition"))] = (part.get_filename(), payload)
        return found

    def notice(self, request: httpx.Request) -> dict[str, Any]:
        if request.headers["content-type"].startswith("multipart/form-data"):
            value: dict[str, Any] = json.loads(self.parts(request)["hoso"][1])
            return value
        value = json.loads(request.content)
        return value


@pytest.fixture
def state() -> SandboxState:
    return SandboxState(ProvinceSandboxConfig(gateway_url="http://gateway.test", api_key=API_KEY), lambda: NOW)


@pytest.mark.parametrize("encoding", ["multipart", "json"])
def test_a_death_notice_is_posted_valid_with_its_files(state: SandboxState, encoding: Any) -> None:
    gateway = FakeGateway()
    posted = post_sample(state, procedure="death_notice", encoding=encoding, transport=httpx.MockTransport(gateway))
    assert (posted.status, posted.error) == (202, None)
    assert posted.answer["MaHoSoLienThong"] == posted.ma_ho_so
    [request] = gateway.requests
    assert (request.method, request.url.path) == ("POST", "/api/v1/death-notices")
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    notice = gateway.notice(request)
    assert notice["MaHoSoLienThong"] == posted.ma_ho_so
    if encoding == "multipart":
        parts = gateway.parts(request)
        files = {k: data for k, (name, data) in parts.items() if k != "hoso"}
        assert {k: name for k, (name, _) in parts.items() if k != "hoso"} == {
            "k1": "trich-luc-khai-tu.pdf", "k2": "to-khai-mai-tang.pdf"}
    else:
        files = {item["TepDinhKemId"]: base64.b64decode(item.pop("NoiDungBase64")) for item in notice["TaiLieuNop"]}
    assert all(data.startswith(b"%PDF-") for data in files.values())
    # What the gateway gets parses without a fault, received now, died and registered just before.
    parsed, errors = parse_death_notice(notice, {k: facts(v) for k, v in files.items()}, today=date(2025, 10, 9))
    assert errors == [] and parsed is not None
    assert notice["NgayTiepNhan"].startswith("20251009")
    assert (parsed.died_on, parsed.registration.registered_on) == (date(2025, 10, 5), date(2025, 10, 8))
    assert [p.as_dict()["procedure"] for p in state.store.posted()] == ["death_notice"]


@pytest.mark.parametrize("person", PEOPLE)
def test_each_sample_person_makes_a_valid_notice(state: SandboxState, person: str) -> None:
    notice, files = build_death_notice(person, "000.00.12.H56-251009-00000001", state.now_vn())
    parsed, errors = parse_death_notice(notice, {k: facts(v) for k, v in files.items()}, today=date(2025, 10, 9))
    assert errors == [], errors
    assert parsed is not None and parsed.translations == ()  # a 2025-10 notice: codes in force, nothing to read


def test_an_unreachable_gateway_is_recorded(state: SandboxState) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    posted = post_sample(state, procedure="death_notice", transport=httpx.MockTransport(refuse))
    assert posted.status is None and posted.error and "ConnectError" in posted.error


def test_the_post_options_know_the_death_notice() -> None:
    app = create_app(ProvinceSandboxConfig(gateway_url="http://gateway.test"))
    with TestClient(app) as client:
        answer = client.post("/_sandbox/post", json={"procedure": "allowance", "person": "lan"})
        assert answer.status_code == 400
        assert [e["field"] for e in answer.json()["errors"]] == ["person"]
        answer = client.post("/_sandbox/post", json={"procedure": "death_notice", "person": "nobody"})
        assert [e["field"] for e in answer.json()["errors"]] == ["person"]
        answer = client.post("/_sandbox/post", json={"procedure": "x"})
        assert "death_notice" in json.dumps(answer.json()["errors"])


def test_the_page_offers_the_death_notice_and_names_its_events(state: SandboxState) -> None:
    for n, event in enumerate(("DA_THOI_HUONG", "KHONG_CO_TRO_CAP")):
        state.store.record_callback(
            {"EventId": f"e{n}", "MaHoSo": "000.00.12.H56-241002-0007", "SuKien": event, "TrangThaiHoSo": None,
             "TrangThaiBo": None, "MaHoSoBo": None, "ThoiDiem": f"2024100209000{n}", "NoiDung": None},
            received_at="now", signature_ok=True, signature_problem=None, signed_at=None, warnings=[])
    html = render(state)
    assert '<option value="death_notice">' in html
    assert all(f'<option value="{p}">' in html for p in PEOPLE)
    assert "Đã thôi hưởng" in html and "Không có trợ cấp" in html
