"""The province officer's page (``GET /``): plain HTML, a meta refresh, one form to post a sample.

Per dossier: what was posted and what the gateway answered, then every callback received, in
arrival order. Everything shown is escaped; no personal data is shown (the samples' names and
ID numbers never leave the posting code).
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter
from starlette.responses import HTMLResponse

from adapters.province.sandbox.posting import PEOPLE
from adapters.province.sandbox.state import SandboxState, State
from adapters.province.sandbox.store import Attempt, CallbackRecord, PostedDossier
from mappings.tables import national_status_name

router = APIRouter()

EVENT_NAMES = {
    "DA_CHUYEN_BO": "Đã chuyển sang Bộ",
    "CAP_NHAT_TRANG_THAI": "Cập nhật trạng thái",
    "LOI_DONG_BO": "Lỗi đồng bộ",
    "SAI_LECH_DAN_CU": "Sai lệch với CSDL dân cư",
    "DA_THOI_HUONG": "Đã thôi hưởng",  # province-api.md §6: a death notice stopped the allowance
    "KHONG_CO_TRO_CAP": "Không có trợ cấp",  # §6: the deceased was not an active beneficiary
}

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
h1{font-size:1.4rem} h2{font-size:1.1rem;margin:1.6rem 0 .4rem}
table{border-collapse:collapse;width:100%}
td,th{border:1px solid #ccc;padding:.35rem;vertical-align:top;text-align:left}
th{background:#f3f3f3} .muted{color:#777} .bad{color:#b00020;font-weight:600} .ok{color:#1b7f2a}
form{margin:.5rem 0} select,button{font-size:.9rem} .fault{background:#fff3cd;padding:.4rem .6rem}
"""


@router.get("/", response_class=HTMLResponse)
async def page(state: State) -> HTMLResponse:
    """The page."""
    return HTMLResponse(render(state), headers={"Cache-Control": "no-store"})


def _e(value: Any) -> str:
    return "" if value is None else escape(str(value), quote=True)


def render(state: SandboxState) -> str:
    """The whole page as HTML."""
    refresh = state.config.page_refresh_seconds
    totals = state.store.counts()
    sections = [_dossier(state, code) for code in state.store.dossier_codes()]
    refused = [a for a in state.store.attempts() if a.outcome not in ("accepted", "duplicate")][-20:]
    return f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{refresh}">
<title>Sandbox — hệ thống một cửa của tỉnh</title><style>{_STYLE}</style></head>
<body>
<h1>Sandbox của tỉnh — hệ thống thông tin giải quyết thủ tục hành chính</h1>
<p class="muted">Trang tự làm mới mỗi {refresh} giây. Cổng: {_e(state.config.gateway_url)}.
JSON: <a href="/_sandbox/callbacks">/_sandbox/callbacks</a>, <a href="/_sandbox/posted">/_sandbox/posted</a>,
<a href="/_sandbox/attempts">/_sandbox/attempts</a>, <a href="/_sandbox/faults">/_sandbox/faults</a>.</p>
{_faults(state)}
<form method="post" action="/_sandbox/post">
<label>Thủ tục <select name="procedure"><option value="allowance">Trợ cấp xã hội hằng tháng (1.001776)</option>
<option value="funeral">Hỗ trợ chi phí mai táng (1.001731)</option>
<option value="mismatch">Trợ cấp hằng tháng, ngày sinh sai lệch CSDL dân cư</option>
<option value="death_notice">Báo tử liên thông: khai tử → hỗ trợ mai táng</option></select></label>
<label>Người mất (chỉ với báo tử) <select name="person"><option value="">mặc định</option>
{"".join(f'<option value="{_e(p)}">{_e(p)}</option>' for p in PEOPLE)}</select></label>
<label>Định dạng <select name="encoding"><option value="multipart">multipart</option>
<option value="json">JSON (base64)</option></select></label>
<button type="submit">Gửi một hồ sơ mẫu</button>
</form>
<p>Đã gửi {totals["posted"]} hồ sơ; nhận {totals["callbacks"]} callback
(trùng lặp bỏ qua: {totals["duplicates"]}; sai thứ tự: {totals["out_of_order"]}; bị từ chối: {totals["refused"]}).</p>
{"".join(sections) or '<p class="muted">Chưa có hồ sơ nào.</p>'}
{_refused(refused)}
</body></html>
"""


def _faults(state: SandboxState) -> str:
    f = state.faults.settings
    active = []
    if f.down:
        active.append(f"đang ngừng hoạt động (trả {f.status} cho mọi callback)")
    if f.fail_next:
        active.append(f"{f.fail_next} callback tới sẽ nhận {f.status}")
    if f.hang_s:
        active.append(f"giữ câu trả lời {f.hang_s:g} giây")
    if not active:
        return ""
    return f'<p class="fault">Lỗi giả lập: {_e("; ".join(active))}.</p>'


def _dossier(state: SandboxState, code: str) -> str:
    posted = state.store.posted(code)
    callbacks = state.store.callbacks(code)
    link = f'<a href="/_sandbox/callbacks?MaHoSo={_e(quote(code, safe=""))}">JSON</a>'
    return f"""<h2>{_e(code)} <span class="muted">({link})</span></h2>
{_posted(posted)}{_callbacks(callbacks)}"""


def _posted(items: list[PostedDossier]) -> str:
    if not items:
        return '<p class="muted">Không do sandbox gửi.</p>'
    rows = []
    for p in items:
        answer = p.answer if isinstance(p.answer, dict) else {}
        outcome = (f"HTTP {_e(p.status)} {_e(answer.get('state') or answer.get('code') or '')} "
                   f"{_e('revision ' + str(answer['revision']) if 'revision' in answer else '')}")
        if p.status is None:
            outcome = f'<span class="bad">{_e(p.error)}</span>'
        rows.append(f"<tr><td>{_e(p.at)}</td><td>{_e(p.procedure)}</td><td>{_e(p.encoding)}</td><td>{outcome}</td></tr>")
    return ("<table><tr><th>Gửi lúc</th><th>Thủ tục</th><th>Định dạng</th><th>Cổng trả lời</th></tr>"
            + "".join(rows) + "</table>")


def _callbacks(items: list[CallbackRecord]) -> str:
    if not items:
        return '<p class="muted">Chưa nhận callback nào.</p>'
    rows = []
    for c in items:
        b = c.body
        national = b.get("TrangThaiHoSo")
        national_text = "" if national is None else f"{national} — {national_status_name(national) or '?'}"
        signature = ('<span class="ok">hợp lệ</span>' if c.signature_ok
                     else f'<span class="bad">{_e(c.signature_problem)}</span>')
        notes = []
        if c.out_of_order:
            notes.append('<span class="bad">sai thứ tự</span>')
        if c.duplicates:
            notes.append(f"trùng lặp ×{c.duplicates}" + (" (nội dung khác!)" if c.duplicate_body_differs else ""))
        notes += [_e(w) for w in c.warnings]
        rows.append(
            f"<tr><td>{_e(c.received_at)}</td><td>{_e(EVENT_NAMES.get(str(b.get('SuKien')), b.get('SuKien')))}</td>"
            f"<td>{_e(national_text)}</td><td>{_e(b.get('TrangThaiBo'))}</td><td>{_e(b.get('MaHoSoBo'))}</td>"
            f"<td>{_e(b.get('ThoiDiem'))}</td><td>{_e(b.get('NoiDung'))}</td><td>{signature}</td>"
            f"<td>{'<br>'.join(notes)}</td></tr>"
        )
    return ("<table><tr><th>Nhận lúc</th><th>Sự kiện</th><th>Trạng thái quốc gia</th><th>Trạng thái của Bộ</th>"
            "<th>Mã hồ sơ Bộ</th><th>Thời điểm</th><th>Nội dung</th><th>Chữ ký</th><th>Ghi chú</th></tr>"
            + "".join(rows) + "</table>")


def _refused(items: list[Attempt]) -> str:
    if not items:
        return ""
    rows = "".join(
        f"<tr><td>{_e(a.at)}</td><td>{_e(a.status)}</td><td>{_e(a.outcome)}</td><td>{_e(a.ma_ho_so)}</td>"
        f"<td>{_e(a.event_id)}</td><td>{_e(a.detail)}</td></tr>"
        for a in reversed(items)
    )
    return ("<h2>Callback bị từ chối gần đây</h2><table><tr><th>Lúc</th><th>HTTP</th><th>Lý do</th><th>MaHoSo</th>"
            "<th>EventId</th><th>Chi tiết</th></tr>" + rows + "</table>")
