"""Contract tests: the gateway's real MinistryClient against the ministry sandbox, over a real socket.

Each test states one rule of docs/contracts/ministry-api.md from the client's side: what it
sends, how many times, and how it classifies every answer (or the lack of one).
"""

from __future__ import annotations

import asyncio
import io
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from adapters.ministry.client import CREATE_PATH, UPLOAD_PATH, MinistryClient
from adapters.ministry.errors import (
    CredentialsError,
    MinistryAuthError,
    PermanentMinistryError,
    TransientMinistryError,
)
from adapters.ministry.models import UploadedFile
from adapters.ministry.sandbox.app import create_app
from adapters.ministry.sandbox.config import RateLimitSettings, SandboxConfig
from adapters.ministry.transport import TransportName
from adapters.province.samples import sample_dossier, sample_pdf_bytes
from mappings.ministry import to_ministry_body
from mappings.model import AttachmentFacts
from mappings.province import parse_dossier
from tests.contract.conftest import CLIENT_ID, CLIENT_SECRET, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET
from tests.contract.ministry_support import (
    SandboxHandle,
    dossier_body,
    file_digest,
    pdf_file,
    sha256_hex,
    with_changes,
    write_file,
)
from tests.support.servers import run_server

pytestmark = pytest.mark.timeout(30)

TRANSPORTS: tuple[TransportName, ...] = ("httpx", "aiohttp")


async def upload(ministry: MinistryClient, path: Path, *, key: str = "upload-1", component: str = "TK_1C",
                 sha256: str | None = None) -> UploadedFile:
    """Upload ``path`` as a PDF component with the client."""
    return await ministry.upload_file(
        path=path,
        filename=path.name,
        content_type="application/pdf",
        component_code=component,
        sha256=sha256 or file_digest(path),
        idempotency_key=key,
    )


async def uploaded_dossier(ministry: MinistryClient, pdf: Path, *, key: str = "create-1") -> tuple[str, dict[str, Any]]:
    """Upload ``pdf`` and create a dossier with it; returns (ministry id, body)."""
    file = await upload(ministry, pdf, key=f"{key}-file")
    body = dossier_body([file.id])
    created = await ministry.create_dossier(body, idempotency_key=key)
    return created.id, body


# ---- §1 authentication ------------------------------------------------------------------------


async def test_one_token_request_serves_many_calls(sandbox: SandboxHandle, ministry: MinistryClient) -> None:
    for _ in range(3):
        await ministry.changes(None, 10)
    await asyncio.gather(*(ministry.changes(None, 10) for _ in range(10)))
    assert sandbox.token_requests() == 1


async def test_concurrent_first_calls_share_one_token_request(sandbox: SandboxHandle,
                                                              ministry: MinistryClient) -> None:
    await asyncio.gather(*(ministry.changes(None, 10) for _ in range(12)))
    assert sandbox.token_requests() == 1
    assert len(sandbox.requests("/api/v1/ho-so/thay-doi")) == 12


async def test_token_is_renewed_once_shortly_before_it_expires(sandbox: SandboxHandle) -> None:
    now = [1000.0]
    async with MinistryClient(sandbox.base_url, CLIENT_ID, CLIENT_SECRET, clock=lambda: now[0]) as client:
        await client.changes(None, 1)
        now[0] += 200  # well within expires_in=300
        await client.changes(None, 1)
        assert sandbox.token_requests() == 1
        now[0] += 95  # 295 s: inside the refresh margin
        await client.changes(None, 1)
        await client.changes(None, 1)
        assert sandbox.token_requests() == 2


async def test_forced_expiry_fetches_one_new_token_and_repeats_the_call_once(
    sandbox: SandboxHandle, ministry: MinistryClient
) -> None:
    await ministry.changes(None, 10)
    sandbox.expire_tokens()
    page = await ministry.changes(None, 10)
    assert page.changes == []
    trail = [(r["method"], r["path"], r["status"]) for r in sandbox.requests()]
    assert trail == [
        ("POST", "/oauth2/token", 200),
        ("GET", "/api/v1/ho-so/thay-doi", 200),
        ("GET", "/api/v1/ho-so/thay-doi", 401),
        ("POST", "/oauth2/token", 200),
        ("GET", "/api/v1/ho-so/thay-doi", 200),
    ]


async def test_concurrent_calls_after_expiry_share_one_new_token(sandbox: SandboxHandle,
                                                                 ministry: MinistryClient) -> None:
    await ministry.changes(None, 10)
    sandbox.expire_tokens()
    await asyncio.gather(*(ministry.changes(None, 10) for _ in range(8)))
    assert sandbox.token_requests() == 2


async def test_token_refused_twice_is_a_transient_auth_error(sandbox: SandboxHandle,
                                                             ministry: MinistryClient) -> None:
    sandbox.faults(token_max_age_seconds=0.000001)
    with pytest.raises(MinistryAuthError) as caught:
        await ministry.changes(None, 10)
    assert caught.value.transient and caught.value.status == 401
    assert caught.value.code == "invalid_token"
    assert sandbox.token_requests() == 2  # one refresh, no loop


async def test_wrong_client_secret_is_a_permanent_credentials_error(sandbox: SandboxHandle) -> None:
    async with MinistryClient(sandbox.base_url, CLIENT_ID, "wrong-secret") as client:
        with pytest.raises(CredentialsError) as caught:
            await client.changes(None, 10)
    assert not caught.value.transient
    assert caught.value.code == "invalid_client"
    assert [r["path"] for r in sandbox.requests()] == ["/oauth2/token"]


# ---- §4 files ---------------------------------------------------------------------------------


async def test_upload_streams_the_file_and_a_repeat_with_the_key_is_replayed(
    sandbox: SandboxHandle, ministry: MinistryClient, tmp_path: Path
) -> None:
    content = sample_pdf_bytes("scan") + b"%" + b"x" * (3 * 1024 * 1024)
    big = write_file(tmp_path / "scan.pdf", content)
    digest = sha256_hex(content)
    first = await upload(ministry, big, key="scan-1")
    again = await upload(ministry, big, key="scan-1")
    assert first.id.startswith("TT-") and again.id == first.id
    assert first.sha256 == digest and first.size == len(content)
    assert first.content_type == "application/pdf" and first.name == "scan.pdf"
    stored = sandbox.state.store.files()
    assert [f.id for f in stored] == [first.id] and stored[0].sha256 == digest
    log = sandbox.requests(UPLOAD_PATH)
    assert [(r["idempotency_key"], r["status"], r["replayed"]) for r in log] == [
        ("scan-1", 201, False),
        ("scan-1", 201, True),
    ]


async def test_an_upload_refused_for_its_token_is_sent_again_whole(
    sandbox: SandboxHandle, ministry: MinistryClient, tmp_path: Path
) -> None:
    content = sample_pdf_bytes("scan") + b"%" + b"y" * (1024 * 1024)
    path = write_file(tmp_path / "scan.pdf", content)
    await ministry.changes(None, 1)
    sandbox.expire_tokens()
    result = await upload(ministry, path, key="after-expiry")
    assert result.size == len(content) and result.sha256 == sha256_hex(content)
    assert [(r["path"], r["status"]) for r in sandbox.requests()][-3:] == [
        (UPLOAD_PATH, 401), ("/oauth2/token", 200), (UPLOAD_PATH, 201)
    ]


class _ThreadNotingStream(io.BytesIO):
    """A stream that is no OS file (like the database store's), noting the threads that read it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.readers: set[int] = set()

    def read(self, size: int | None = -1) -> bytes:
        self.readers.add(threading.get_ident())
        return super().read(size)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_upload_from_a_stream_is_read_off_the_event_loop_and_sent_again_whole_after_a_401(
    sandbox: SandboxHandle, transport: TransportName
) -> None:
    content = sample_pdf_bytes("stream") + b"%" + b"z" * (700 * 1024)  # several reads of 256 KiB
    stream = _ThreadNotingStream(content)
    async with MinistryClient(sandbox.base_url, CLIENT_ID, CLIENT_SECRET, transport_name=transport) as client:
        await client.changes(None, 1)
        sandbox.expire_tokens()
        result = await client.upload_file(opened=stream, filename="scan.pdf", content_type="application/pdf",
                                          component_code="TK_1C", sha256=sha256_hex(content),
                                          idempotency_key="stream-1")
    assert not stream.closed  # the caller's
    assert stream.readers and threading.get_ident() not in stream.readers
    assert result.size == len(content) and result.sha256 == sha256_hex(content)
    assert [f.sha256 for f in sandbox.state.store.files()] == [sha256_hex(content)]
    assert [(r["path"], r["status"]) for r in sandbox.requests()][-3:] == [
        (UPLOAD_PATH, 401), ("/oauth2/token", 200), (UPLOAD_PATH, 201)
    ]


async def test_upload_key_reused_for_another_file_is_permanent(
    sandbox: SandboxHandle, ministry: MinistryClient, pdf: Path, tmp_path: Path
) -> None:
    await upload(ministry, pdf, key="same-key")
    other = pdf_file(tmp_path / "other.pdf", "another file")
    with pytest.raises(PermanentMinistryError) as caught:
        await upload(ministry, other, key="same-key")
    assert caught.value.status == 422 and caught.value.code == "KHOA_TRUNG_LAP_KHAC_NOI_DUNG"


async def test_damaged_bytes_are_transient_and_the_retry_with_the_same_key_succeeds(
    sandbox: SandboxHandle, ministry: MinistryClient, pdf: Path, tmp_path: Path
) -> None:
    good = sample_pdf_bytes("good")
    write_file(pdf, good[:-8] + b"damaged\n")  # what arrived: not the bytes the digest was made of
    with pytest.raises(TransientMinistryError) as caught:
        await upload(ministry, pdf, key="retry-me", sha256=sha256_hex(good))
    assert caught.value.status == 422 and caught.value.code == "SAI_MA_BAM"
    write_file(pdf, good)
    result = await upload(ministry, pdf, key="retry-me", sha256=sha256_hex(good))
    assert result.sha256 == sha256_hex(good)


async def test_a_file_that_is_not_pdf_jpeg_or_png_is_permanent(
    sandbox: SandboxHandle, ministry: MinistryClient, tmp_path: Path
) -> None:
    fake = write_file(tmp_path / "to-khai.pdf", b"just text pretending to be a PDF")
    with pytest.raises(PermanentMinistryError) as caught:
        await upload(ministry, fake)
    assert caught.value.status == 415 and caught.value.code == "DINH_DANG_KHONG_HO_TRO"


async def test_a_file_over_the_limit_is_permanent(tmp_path: Path) -> None:
    app = create_app(SandboxConfig(clients={CLIENT_ID: CLIENT_SECRET}, max_file_bytes=1024))
    path = write_file(tmp_path / "big.pdf", sample_pdf_bytes() + b"%" + b"x" * 2048)
    with run_server(app) as base_url:
        async with MinistryClient(base_url, CLIENT_ID, CLIENT_SECRET) as client:
            with pytest.raises(PermanentMinistryError) as caught:
                await upload(client, path)
    assert caught.value.status == 413 and caught.value.code == "TEP_QUA_LON"


# ---- §5 dossiers ------------------------------------------------------------------------------


async def test_create_puts_the_dossier_in_pending_reception_never_lookup(
    sandbox: SandboxHandle, ministry: MinistryClient, pdf: Path
) -> None:
    file = await upload(ministry, pdf)
    body = dossier_body([file.id])
    created = await ministry.create_dossier(body, idempotency_key="create-1")
    assert created.id.startswith("HS-")
    assert created.status == "CHO_TIEP_NHAN" and created.ma_ho_so == body["maHoSoTinh"]
    assert created.created_at is not None and created.created_at.utcoffset() is not None
    assert not created.already_existed and not created.replayed
    pending = sandbox.pending()
    assert [d["id"] for d in pending] == [created.id]
    assert pending[0]["thanhPhanHoSo"][0]["tepTin"][0]["sha256"] == file.sha256
    assert sandbox.lookup() == []
    assert not [r for r in sandbox.requests() if "tra-cuu" in r["path"]]
    stored = await ministry.get_dossier(created.id)
    assert stored["trangThai"] == "CHO_TIEP_NHAN" and stored["doiTuong"] == body["doiTuong"]
    assert [h["trangThai"] for h in stored["lichSu"]] == ["CHO_TIEP_NHAN"]


async def test_create_repeated_with_the_same_key_returns_the_first_answer(
    sandbox: SandboxHandle, ministry: MinistryClient, pdf: Path
) -> None:
    file = await upload(ministry, pdf)
    body = dossier_body([file.id])
    first = await ministry.create_dossier(body, idempotency_key="create-1")
    again = await ministry.create_dossier(dict(reversed(list(body.items()))), idempotency_key="create-1")
    assert again.id == first.id and again.replayed and not again.already_existed
    assert len(sandbox.all_dossiers()) == 1


async def test_duplicate_dossier_code_is_success_with_the_existing_id(
    sandbox: SandboxHandle, ministry: MinistryClient, pdf: Path, tmp_path: Path
) -> None:
    first_id, body = await uploaded_dossier(ministry, pdf, key="create-1")
    # A later attempt with a new key (e.g. after the key's 24 h): files uploaded again, same code.
    second_file = await upload(ministry, pdf_file(tmp_path / "again.pdf", "again"), key="upload-2")
    repeat = with_changes(body, thanhPhanHoSo=[{**body["thanhPhanHoSo"][0], "tepTinIds": [second_file.id]}])
    result = await ministry.create_dossier(repeat, idempotency_key="create-2")
    assert result.already_existed and result.id == first_id
    assert result.ma_ho_so == body["maHoSoTinh"]
    assert len(sandbox.all_dossiers()) == 1


async def test_create_key_reused_with_another_body_is_permanent(
    sandbox: SandboxHandle, ministry: MinistryClient, pdf: Path
) -> None:
    _, body = await uploaded_dossier(ministry, pdf, key="create-1")
    with pytest.raises(PermanentMinistryError) as caught:
        await ministry.create_dossier(with_changes(body, ghiChu="changed"), idempotency_key="create-1")
    assert caught.value.code == "KHOA_TRUNG_LAP_KHAC_NOI_DUNG" and not caught.value.transient


async def test_validation_failure_is_permanent_and_lists_the_fields(
    sandbox: SandboxHandle, ministry: MinistryClient, pdf: Path
) -> None:
    file = await upload(ministry, pdf)
    body = with_changes(dossier_body([file.id]), doiTuong__gioiTinh="F", doiTuong__soDinhDanh="12345",
                        kenhNop="FAX")
    with pytest.raises(PermanentMinistryError) as caught:
        await ministry.create_dossier(body, idempotency_key="create-1")
    error = caught.value
    assert error.status == 400 and error.code == "DU_LIEU_KHONG_HOP_LE"
    assert {d.field for d in error.details} == {"doiTuong.gioiTinh", "doiTuong.soDinhDanh", "kenhNop"}
    assert all(d.message for d in error.details)
    assert "12345" not in str(error)  # the message names fields, it does not echo the body
    assert sandbox.all_dossiers() == []


async def test_the_body_the_gateway_maps_from_a_province_dossier_is_accepted(
    sandbox: SandboxHandle, ministry: MinistryClient, pdf: Path
) -> None:
    data = sample_pdf_bytes("mapped")
    write_file(pdf, data)
    dossier, faults = parse_dossier(
        sample_dossier(), {"f1": AttachmentFacts(sha256_hex(data), len(data), "application/pdf")},
        today=date(2025, 1, 1),
    )
    assert dossier is not None, faults
    file = await upload(ministry, pdf, component=dossier.documents[0].component_code)
    created = await ministry.create_dossier(to_ministry_body(dossier, {"f1": file.id}), idempotency_key="mapped")
    assert created.status == "CHO_TIEP_NHAN"
    assert sandbox.pending()[0]["maHoSoTinh"] == dossier.code


async def test_unknown_dossier_is_permanent_not_found(ministry: MinistryClient) -> None:
    with pytest.raises(PermanentMinistryError) as caught:
        await ministry.get_dossier("HS-UNKNOWN")
    assert caught.value.status == 404 and caught.value.code == "KHONG_TIM_THAY"


async def test_read_dossier_gives_its_status_fields_and_every_file_supplements_included(
    sandbox: SandboxHandle, ministry: MinistryClient, pdf: Path, tmp_path: Path
) -> None:
    created_id, body = await uploaded_dossier(ministry, pdf)
    stored = await ministry.read_dossier(created_id)
    [sent_file] = body["thanhPhanHoSo"][0]["tepTinIds"]
    assert (stored.id, stored.ma_ho_so, stored.status) == (created_id, body["maHoSoTinh"], "CHO_TIEP_NHAN")
    assert stored.created_at is not None and stored.created_at.utcoffset() is not None
    assert stored.files == (("TK_1C", sent_file),)
    assert stored.fields["doiTuong"] == body["doiTuong"] and stored.fields["ngayNop"] == body["ngayNop"]
    assert "Nguyễn" not in repr(stored)  # the fields hold personal data: never in a log line
    sandbox.officer(created_id, "YEU_CAU_BO_SUNG", lyDo="Thiếu giấy tờ")
    extra = await upload(ministry, pdf_file(tmp_path / "gxn.pdf", "GXN"), key="extra", component="GIAY_TO_KHAC")
    await ministry.supplement(created_id, {"thanhPhanHoSo": [
        {"maThanhPhan": "GIAY_TO_KHAC", "tenThanhPhan": "Giấy tờ khác", "tepTinIds": [extra.id]}],
        "ghiChu": None}, idempotency_key="supp-1")
    again = await ministry.read_dossier(created_id)
    assert again.status == "DA_TIEP_NHAN"
    assert again.files == (("TK_1C", sent_file), ("GIAY_TO_KHAC", extra.id))


async def test_another_client_s_dossier_is_not_found_to_read_though_its_code_answers_409(
    sandbox: SandboxHandle, ministry: MinistryClient, pdf: Path, tmp_path: Path
) -> None:
    async with MinistryClient(sandbox.base_url, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET) as other:
        theirs, body = await uploaded_dossier(other, pdf, key="theirs")
    ours = await upload(ministry, pdf_file(tmp_path / "ours.pdf", "ours"), key="ours-file")
    taken = await ministry.create_dossier(
        with_changes(body, thanhPhanHoSo=[{**body["thanhPhanHoSo"][0], "tepTinIds": [ours.id]}]),
        idempotency_key="ours")
    assert taken.already_existed and taken.id == theirs
    with pytest.raises(PermanentMinistryError) as caught:
        await ministry.read_dossier(theirs)
    assert (caught.value.status, caught.value.code) == (404, "KHONG_TIM_THAY")


async def test_the_client_cannot_be_made_to_call_the_lookup_import(
    sandbox: SandboxHandle, ministry: MinistryClient
) -> None:
    with pytest.raises(ValueError, match="tra-cuu"):
        await ministry.get_dossier("tra-cuu")
    with pytest.raises(ValueError, match="tra-cuu"):
        await ministry.read_dossier("tra-cuu")
    with pytest.raises(ValueError, match="tra-cuu"):
        await ministry.supplement("tra-cuu", {"thanhPhanHoSo": []}, idempotency_key="k")
    assert [r["path"] for r in sandbox.requests() if r["path"] != "/oauth2/token"] == []


# ---- §2 faults: every transient failure, and exactly one effect after a retry ----------------------


@pytest.mark.parametrize(
    ("status", "code", "retry_after"),
    [(503, "LOI_HE_THONG", 7.0), (500, "LOI_HE_THONG", None), (502, "LOI_HE_THONG", None),
     (429, "VUOT_GIOI_HAN", 3.0)],
)
async def test_server_errors_and_rate_limits_are_transient(
    sandbox: SandboxHandle, ministry: MinistryClient, status: int, code: str, retry_after: float | None
) -> None:
    sandbox.faults(fail_next=1, status=status, error_503_retry_after=7, rate_limited_retry_after=3)
    with pytest.raises(TransientMinistryError) as caught:
        await ministry.changes(None, 10)
    assert (caught.value.status, caught.value.code, caught.value.retry_after) == (status, code, retry_after)
    sent = len(sandbox.requests("/api/v1/"))
    if retry_after is None:
        await ministry.changes(None, 10)  # the next call goes through
        assert len(sandbox.requests("/api/v1/")) == sent + 1
    else:
        # Within the ministry's Retry-After no call goes out, not even another one: it fails fast.
        with pytest.raises(TransientMinistryError) as held:
            await ministry.changes(None, 10)
        assert held.value.status is None and 0 < (held.value.retry_after or 0) <= retry_after
        assert len(sandbox.requests("/api/v1/")) == sent


async def test_the_rate_limit_answers_429_with_retry_after() -> None:
    config = SandboxConfig(clients={CLIENT_ID: CLIENT_SECRET},
                           rate_limit=RateLimitSettings(rate_per_second=0.5, burst=3))
    with run_server(create_app(config)) as base_url:
        async with MinistryClient(base_url, CLIENT_ID, CLIENT_SECRET) as client:
            for _ in range(3):
                await client.changes(None, 10)
            with pytest.raises(TransientMinistryError) as caught:
                await client.changes(None, 10)
    assert caught.value.status == 429 and caught.value.code == "VUOT_GIOI_HAN"
    assert caught.value.retry_after is not None and caught.value.retry_after >= 1


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_hung_answer_times_out_as_transient_and_the_retry_makes_one_dossier(
    sandbox: SandboxHandle, pdf: Path, transport: TransportName
) -> None:
    async with MinistryClient(sandbox.base_url, CLIENT_ID, CLIENT_SECRET, timeout=0.5,
                              transport_name=transport) as client:
        file = await upload(client, pdf)
        body = dossier_body([file.id])
        sandbox.faults(sequence=["hang"], hang_seconds=1.5, path_prefixes=[CREATE_PATH])
        with pytest.raises(TransientMinistryError) as caught:
            await client.create_dossier(body, idempotency_key="create-1")
        assert caught.value.code == "TIMEOUT" and caught.value.status is None
        retried = await client.create_dossier(body, idempotency_key="create-1")
    assert retried.replayed
    assert [d["id"] for d in sandbox.all_dossiers()] == [retried.id]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_an_answer_lost_after_the_ministry_acted_is_transient_and_the_retry_makes_one_dossier(
    sandbox: SandboxHandle, pdf: Path, transport: TransportName
) -> None:
    async with MinistryClient(sandbox.base_url, CLIENT_ID, CLIENT_SECRET, transport_name=transport) as client:
        file = await upload(client, pdf)
        body = dossier_body([file.id])
        sandbox.faults(sequence=["lost_answer"], path_prefixes=[CREATE_PATH])
        with pytest.raises(TransientMinistryError) as caught:
            await client.create_dossier(body, idempotency_key="create-1")
        assert caught.value.status is None
        acted = sandbox.all_dossiers()
        assert len(acted) == 1  # the ministry did create it
        retried = await client.create_dossier(body, idempotency_key="create-1")
    assert retried.id == acted[0]["id"] and retried.replayed and not retried.already_existed
    assert len(sandbox.all_dossiers()) == 1
    created = sandbox.requests(CREATE_PATH)
    assert [(r["status"], r["answered"], r["replayed"]) for r in created] == [(201, False, False), (201, True, True)]


async def test_a_lost_upload_answer_is_retried_into_the_same_file(
    sandbox: SandboxHandle, ministry: MinistryClient, pdf: Path
) -> None:
    sandbox.faults(sequence=["lost_answer"], path_prefixes=[UPLOAD_PATH])
    with pytest.raises(TransientMinistryError):
        await upload(ministry, pdf, key="upload-1")
    result = await upload(ministry, pdf, key="upload-1")
    assert [f.id for f in sandbox.state.store.files()] == [result.id]


async def test_connection_refused_is_transient(closed_port: int) -> None:
    async with MinistryClient(f"http://127.0.0.1:{closed_port}", CLIENT_ID, CLIENT_SECRET) as client:
        with pytest.raises(TransientMinistryError) as caught:
            await client.changes(None, 10)
    assert caught.value.code == "CONNECTION" and caught.value.status is None


# ---- §6 change feed ---------------------------------------------------------------------------


async def test_change_feed_pages_in_order_with_the_opaque_cursor(
    sandbox: SandboxHandle, ministry: MinistryClient, tmp_path: Path
) -> None:
    ids = []
    for n in range(3):
        created_id, _ = await uploaded_dossier(ministry, pdf_file(tmp_path / f"{n}.pdf", str(n)), key=f"c{n}")
        ids.append(created_id)
    assert sandbox.officer(ids[0], "DA_TIEP_NHAN", canBo="can.bo.01").status_code == 200
    assert sandbox.officer(ids[1], "YEU_CAU_BO_SUNG", lyDo="Thiếu giấy xác nhận").status_code == 200
    # Another province's dossier never shows in our feed.
    async with MinistryClient(sandbox.base_url, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET) as other:
        await uploaded_dossier(other, pdf_file(tmp_path / "x.pdf", "x"), key="other")

    seen: list[dict[str, Any]] = []
    flags = []
    cursor: str | None = None
    while True:
        page = await ministry.changes(cursor, 2)
        seen += page.changes
        flags.append(page.more)
        cursor = page.cursor
        if not page.more:
            break
    assert flags == [True, True, False]
    assert [(c["id"], c["trangThai"]) for c in seen] == [
        (ids[0], "CHO_TIEP_NHAN"), (ids[1], "CHO_TIEP_NHAN"), (ids[2], "CHO_TIEP_NHAN"),
        (ids[0], "DA_TIEP_NHAN"), (ids[1], "YEU_CAU_BO_SUNG"),
    ]
    assert seen[3]["canBo"] == "can.bo.01" and seen[4]["lyDo"] == "Thiếu giấy xác nhận"
    assert all(c["thoiDiem"] and c["maHoSoTinh"] for c in seen)

    idle = await ministry.changes(cursor, 2)
    assert idle.changes == [] and not idle.more and idle.cursor == cursor
    sandbox.officer(ids[0], "DANG_THAM_DINH")
    later = await ministry.changes(cursor, 500)
    assert [(c["id"], c["trangThai"]) for c in later.changes] == [(ids[0], "DANG_THAM_DINH")]


async def test_change_feed_may_deliver_a_change_twice(sandbox: SandboxHandle, ministry: MinistryClient,
                                                      pdf: Path) -> None:
    created_id, _ = await uploaded_dossier(ministry, pdf)
    sandbox.officer(created_id, "DA_TIEP_NHAN")
    sandbox.faults(feed_redeliver_rate=1.0)
    first = await ministry.changes(None, 500)
    second = await ministry.changes(first.cursor, 500)
    assert [c["trangThai"] for c in first.changes] == ["CHO_TIEP_NHAN", "DA_TIEP_NHAN"] and first.more
    assert [c["trangThai"] for c in second.changes] == ["DA_TIEP_NHAN"] and not second.more


async def test_a_granted_decision_carries_its_details(sandbox: SandboxHandle, ministry: MinistryClient,
                                                      pdf: Path) -> None:
    created_id, _ = await uploaded_dossier(ministry, pdf)
    decision = {"so": "123/QĐ-UBND", "ngay": "2024-02-01", "mucHuongThang": 500000, "thangBatDauHuong": "2024-02"}
    for status in ("DA_TIEP_NHAN", "DANG_THAM_DINH"):
        assert sandbox.officer(created_id, status).status_code == 200
    assert sandbox.officer(created_id, "DA_PHE_DUYET", quyetDinh=decision).status_code == 200
    page = await ministry.changes(None, 500)
    assert page.changes[-1]["trangThai"] == "DA_PHE_DUYET" and page.changes[-1]["quyetDinh"] == decision
    stored = await ministry.get_dossier(created_id)
    assert stored["quyetDinh"] == decision
    assert [h["trangThai"] for h in stored["lichSu"]] == ["CHO_TIEP_NHAN", "DA_TIEP_NHAN", "DANG_THAM_DINH",
                                                          "DA_PHE_DUYET"]


# ---- §5 bo-sung -------------------------------------------------------------------------------


async def test_supplement_is_refused_unless_more_was_asked_then_moves_back_to_received(
    sandbox: SandboxHandle, ministry: MinistryClient, pdf: Path, tmp_path: Path
) -> None:
    created_id, _ = await uploaded_dossier(ministry, pdf)
    extra = await upload(ministry, pdf_file(tmp_path / "gxn.pdf", "GXN"), key="extra", component="GIAY_TO_KHAC")
    supplement = {
        "thanhPhanHoSo": [{"maThanhPhan": "GIAY_TO_KHAC", "tenThanhPhan": "Giấy tờ khác", "tepTinIds": [extra.id]}],
        "ghiChu": "Bổ sung giấy tờ",
    }
    with pytest.raises(PermanentMinistryError) as caught:
        await ministry.supplement(created_id, supplement, idempotency_key="supp-1")
    assert caught.value.status == 409 and caught.value.code == "TRANG_THAI_KHONG_PHU_HOP"

    sandbox.officer(created_id, "YEU_CAU_BO_SUNG", lyDo="Thiếu giấy tờ")
    # The refusal was not stored against the key: the state moved, the same request now succeeds.
    answer = await ministry.supplement(created_id, supplement, idempotency_key="supp-1")
    assert answer["trangThai"] == "DA_TIEP_NHAN"
    assert [c["maThanhPhan"] for c in answer["thanhPhanHoSo"]] == ["TK_1C", "GIAY_TO_KHAC"]
    assert [h["trangThai"] for h in answer["lichSu"]] == ["CHO_TIEP_NHAN", "YEU_CAU_BO_SUNG", "DA_TIEP_NHAN"]
    again = await ministry.supplement(created_id, supplement, idempotency_key="supp-1")
    assert again == answer
    # A file already in this dossier may be named again; it is not "used by another dossier".
    sandbox.officer(created_id, "YEU_CAU_BO_SUNG")
    repeated = await ministry.supplement(created_id, supplement, idempotency_key="supp-3")
    assert repeated["trangThai"] == "DA_TIEP_NHAN"
    with pytest.raises(PermanentMinistryError) as late:
        await ministry.supplement(created_id, supplement, idempotency_key="supp-2")
    assert late.value.code == "TRANG_THAI_KHONG_PHU_HOP"
