"""The admin console in headless Chromium (Debian's ``chromium`` driven by Playwright): a real gateway and
ministry sandbox, a dossier that goes dead, an administrator who logs in, replays it, sees it delivered and
sees the audit entry. Screenshots land in ``test-artifacts/``.

Runs on SQLite only: the console reads through the same service as the API, which the suite covers on both
engines. With CI=true a missing chromium or Playwright fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.province.client import post_dossier
from adapters.province.samples import sample_dossier
from tests.conftest import ADMIN_KEY, IN_CI, MONITOR_KEY, PROVINCE_KEY
from tests.contract.ministry_support import SandboxHandle
from tests.e2e.conftest import CALLBACK_SECRET, Province, dossier_state, wait_until
from tests.support.intake import sample_files

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DELIVERY_PATHS = ["/api/v1/tep-tin", "/api/v1/ho-so/cho-tiep-nhan"]


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


def _chromium() -> str:
    """The system chromium (``CHROMIUM_PATH`` overrides): never a browser downloaded by Playwright."""
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        _unavailable("chromium is missing (apt-get install chromium)")
    return path


@pytest.fixture
def db_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only (overrides the suite's two-engine fixture for this module)."""
    target = tmp_path / "gateway.db"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless system Chromium."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is missing (pip install -e '.[dev]')")
    executable = _chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def _dossier(url: str, code: str) -> dict[str, Any]:
    with httpx.Client(base_url=url, timeout=10) as http:
        return dossier_state(http, code, PROVINCE_KEY)


@pytest.mark.browser
def test_an_administrator_replays_a_dead_dossier_in_a_real_browser(
    gateway_factory: Callable[..., str], ministry: SandboxHandle, browser: Any
) -> None:
    url = gateway_factory(retry_max_attempts=1)
    ministry.faults(fail_next=5, status=503, path_prefixes=DELIVERY_PATHS)
    dossier = sample_dossier()
    code = dossier["MaHoSo"]
    with httpx.Client(base_url=url, timeout=30) as http:
        assert post_dossier(http, PROVINCE_KEY, dossier, sample_files(dossier)).status_code == 202
    wait_until(lambda: _dossier(url, code)["state"] == "dead")
    ministry.faults()  # the ministry is back up; only an administrator's replay will send the dossier now

    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(base_url=url, locale="vi-VN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        # No session: the console sends the browser to its login page.
        page.goto("/admin/messages")
        assert re.search(r"/admin/login\?next=", page.url)
        page.fill("#api_key", "not-the-key")
        page.click("button[type=submit]")
        assert "Khóa API không đúng" in page.inner_text("main")
        page.fill("#api_key", ADMIN_KEY)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/admin/messages$"))  # back to the page asked for
        problems.clear()  # the refused key's 401 was expected; from here on nothing may fail to load
        # The stylesheet loaded under the Content-Security-Policy (self only).
        assert page.eval_on_selector("header.top", "e => getComputedStyle(e).backgroundColor") == "rgb(163, 29, 36)"

        # The dead list: the dossier code and the reason in plain Vietnamese.
        row = page.locator("tr", has_text=code)
        assert row.count() == 1
        assert "Thất bại" in row.inner_text()
        assert "Phần mềm trợ giúp xã hội của Bộ đang gặp sự cố" in row.inner_text()
        page.screenshot(path=str(ARTIFACTS / "admin-console-dead-list.png"), full_page=True)

        # The message: its attempt, then the replay.
        row.locator("a").first.click()
        page.wait_for_url(re.compile(r"/admin/messages/\d+$"))
        message_path = page.url.removeprefix(url)
        assert page.inner_text("#message-state") == "Thất bại"
        attempts = page.locator("table.attempts tbody tr")
        assert attempts.count() == 1
        assert "503" in attempts.first.inner_text()
        assert "Khi hệ thống của Bộ hoạt động trở lại, bấm Gửi lại" in page.inner_text("section.reason")
        page.screenshot(path=str(ARTIFACTS / "admin-console-dead-message.png"), full_page=True)
        page.click("button:has-text('Gửi lại')")
        assert "Đã đưa 1 thông điệp vào hàng đợi gửi lại" in page.inner_text("p.flash")

        def delivered() -> bool:
            page.goto(message_path)
            return page.inner_text("#message-state") == "Đã gửi"

        wait_until(delivered, timeout=20, interval=0.3)
        assert [page.locator("table.attempts tbody tr").nth(i).locator("td").nth(3).inner_text()
                for i in range(2)] == ["Lỗi, dừng gửi", "Thành công"]
        assert _dossier(url, code)["state"] == "delivered"
        page.screenshot(path=str(ARTIFACTS / "admin-console.png"), full_page=True)

        # The audit log names the administrator's key and links the message.
        page.click("nav >> text=Nhật ký quản trị")
        entry = page.locator("table.audit tbody tr").first
        assert "api:admin" in entry.inner_text()
        assert "Gửi lại" in entry.inner_text()
        assert entry.locator(f"a[href='{message_path}']").count() == 1
        page.screenshot(path=str(ARTIFACTS / "admin-console-audit.png"), full_page=True)

        # The dashboard: counts by state and the embedded worker's view of the ministry circuit.
        page.click("nav >> text=Tổng quan")
        assert page.inner_text("[data-state=done]") == "1"
        assert page.inner_text("[data-state=dead]") == "0"
        assert "Bình thường" in page.inner_text("dl.facts")
        page.screenshot(path=str(ARTIFACTS / "admin-console-dashboard.png"), full_page=True)

        # Logging out ends the session.
        page.click("button:has-text('Đăng xuất')")
        page.wait_for_url(re.compile(r"/admin/login$"))
        page.goto("/admin")
        assert "/admin/login" in page.url
        assert not problems, problems
    finally:
        context.close()


def _log_in(page: Any, key: str) -> None:
    page.goto("/admin/login")
    page.fill("#api_key", key)
    page.click("button[type=submit]")


@pytest.mark.browser
def test_cancel_a_message_what_a_monitor_sees_and_the_login_throttle(
    gateway_factory: Callable[..., str], ministry: SandboxHandle, browser: Any
) -> None:
    url = gateway_factory(retry_max_attempts=1, login_delay_after=2, login_delay_s=0.05, login_lockout_after=3)
    ministry.faults(fail_next=5, status=503, path_prefixes=DELIVERY_PATHS)
    dossier = sample_dossier()
    code = dossier["MaHoSo"]
    with httpx.Client(base_url=url, timeout=30) as http:
        assert post_dossier(http, PROVINCE_KEY, dossier, sample_files(dossier)).status_code == 202
    wait_until(lambda: _dossier(url, code)["state"] == "dead")
    ministry.faults()

    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(base_url=url, locale="vi-VN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        # An administrator cancels the dead delivery from its row, giving a reason.
        _log_in(page, ADMIN_KEY)
        page.wait_for_url(re.compile(r"/admin$"))
        assert page.inner_text("#user-role") == "quản trị"
        page.goto("/admin/messages")
        row = page.locator("tr", has_text=code)
        row.locator("a:has-text('Hủy…')").click()
        page.wait_for_url(re.compile(r"/admin/messages/\d+/cancel$"))
        message_path = page.url.removeprefix(url).removesuffix("/cancel")
        page.fill("#reason", "tỉnh sẽ gửi lại bản đúng")
        page.click("button:has-text('Xác nhận hủy thông điệp')")
        page.wait_for_url(re.compile(r"/admin/messages/\d+\?done=cancel"))
        assert "Đã hủy thông điệp" in page.inner_text("p.flash")
        assert page.inner_text("#message-state") == "Đã hủy"
        assert page.locator("#cancel-message").count() == 0  # cancelled: nothing more to cancel
        assert "tỉnh sẽ gửi lại bản đúng" in page.inner_text("#cancel-reason")
        page.goto("/admin/audit")
        assert "Hủy thông điệp" in page.locator("table.audit tbody tr").first.inner_text()
        page.screenshot(path=str(ARTIFACTS / "admin-console-cancel.png"), full_page=True)
        page.click("button:has-text('Đăng xuất')")
        page.wait_for_url(re.compile(r"/admin/login$"))

        # A monitor sees the message, but no replay or cancel.
        _log_in(page, MONITOR_KEY)
        page.wait_for_url(re.compile(r"/admin$"))
        assert page.inner_text("#user-role") == "giám sát (chỉ xem)"
        page.goto(message_path)
        assert page.inner_text("#message-state") == "Đã hủy"
        assert page.locator("button:has-text('Gửi lại')").count() == 0
        page.goto("/admin/messages?state=")
        assert page.locator("tr", has_text=code).count() >= 1
        assert page.locator("a:has-text('Hủy…')").count() == 0
        page.screenshot(path=str(ARTIFACTS / "admin-console-monitor.png"), full_page=True)
        page.click("button:has-text('Đăng xuất')")
        page.wait_for_url(re.compile(r"/admin/login$"))

        # Wrong keys from this address: refused for a while, even the right key.
        for attempt in range(3):
            _log_in(page, f"wrong-key-{attempt}")
        assert "Đăng nhập sai quá nhiều lần" in page.inner_text("main")
        _log_in(page, ADMIN_KEY)
        assert "/admin/login" in page.url
        assert "Đăng nhập sai quá nhiều lần" in page.inner_text("main")
        page.screenshot(path=str(ARTIFACTS / "admin-console-throttle.png"), full_page=True)
    finally:
        context.close()


def _console(browser: Any, url: str) -> tuple[Any, Any, list[str]]:
    """A logged-in console page and the list its console errors and page errors land in."""
    context = browser.new_context(base_url=url, locale="vi-VN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto("/admin/login")
    page.fill("#api_key", ADMIN_KEY)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/admin$"))
    return context, page, problems


@pytest.mark.browser
def test_an_operator_finds_a_dossier_and_reads_its_timeline_and_the_dashboard_charts(
    gateway_factory: Callable[..., str], ministry: SandboxHandle, province: Province, browser: Any
) -> None:
    url = gateway_factory(province_callback_url=f"{province.base_url}/callbacks",
                          province_callback_secret=CALLBACK_SECRET)
    ministry.faults(fail_next=1, status=503, path_prefixes=DELIVERY_PATHS)  # one failed attempt, then delivered
    dossier = sample_dossier()
    code = dossier["MaHoSo"]
    with httpx.Client(base_url=url, timeout=30) as http:
        assert post_dossier(http, PROVINCE_KEY, dossier, sample_files(dossier)).status_code == 202
    state = wait_until(lambda: (s := _dossier(url, code))["state"] == "delivered" and s)
    ministry.faults()
    assert ministry.officer(state["ministry"]["id"], "DA_TIEP_NHAN").status_code == 200
    wait_until(lambda: [c for c in province.callbacks(code) if c.get("TrangThaiBo") == "DA_TIEP_NHAN"])

    ARTIFACTS.mkdir(exist_ok=True)
    context, page, problems = _console(browser, url)
    try:
        # The search box on every page: by MaHoSo, straight to the dossier's page.
        page.fill("#search-q", code)
        page.press("#search-q", "Enter")
        page.wait_for_url(re.compile(r"/admin/dossiers/"))
        assert page.inner_text("#ma-ho-so") == code

        def told() -> bool:  # the callback's attempt is recorded once the province answered
            page.reload()
            return page.locator("#timeline li[data-source=attempt][data-kind=province_callback]").count() >= 2
        wait_until(told, timeout=20, interval=0.3)
        timeline = page.inner_text("#timeline")
        assert "Lỗi, sẽ thử lại" in timeline and "Thành công" in timeline  # the 503, then the delivery
        assert "Đã chuyển vào hàng chờ tiếp nhận của Bộ" in timeline
        assert page.locator("#timeline li[data-kind=ministry_status][data-code=DA_TIEP_NHAN]").count() == 1
        assert page.locator("#timeline li[data-kind=province_callback][data-code=CAP_NHAT_TRANG_THAI]").count() >= 1
        assert "Quá hạn" in page.inner_text("#deadline")  # the sample's promised date is in 2024
        assert dossier["DuLieuToKhai"]["SoDinhDanh"] not in page.content()
        page.screenshot(path=str(ARTIFACTS / "admin-console-dossier.png"), full_page=True)

        # By the ministry's id too; an unknown code says so.
        page.fill("#search-q", state["ministry"]["id"])
        page.press("#search-q", "Enter")
        page.wait_for_url(re.compile(r"/admin/dossiers/"))
        problems.clear()
        page.goto("/admin/search?q=000.00.12.H56-000000-0000")
        assert "Không tìm thấy" in page.inner_text("main")
        problems.clear()  # that page answers 404, which the browser reports

        # The dashboard draws its charts from the last day's messages, inline, under the strict CSP.
        page.goto("/admin")
        for chart in ("#chart-deliveries", "#chart-backlog", "#chart-overdue"):
            box = page.locator(chart).bounding_box()
            assert box and box["width"] > 300 and box["height"] > 80
        assert page.locator("#chart-deliveries circle").count() == 96
        assert page.locator("#chart-deliveries circle:not([data-value='0'])").count() >= 1
        assert page.locator("#chart-overdue rect.bar").count() == 1
        assert int(page.inner_text("#delivered-total")) >= 2
        page.screenshot(path=str(ARTIFACTS / "admin-console-charts.png"), full_page=True)
        assert not problems, problems
    finally:
        context.close()
