"""The officer's page (``GET /``): plain HTML with a meta refresh, one form per possible action.

It shows the pending-reception queue first (what the gateway must fill), the dossiers further
along, and, apart, the legacy lookup list (what the broken sync filled instead); then the people the
ministry pays (§8), the allowances stopped through ``thoi-huong``, with their recoveries, and the back-payments
made through ``truy-linh`` (§9).
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from fastapi import APIRouter
from starlette.responses import HTMLResponse

from adapters.ministry.sandbox import codes
from adapters.ministry.sandbox.api import State
from adapters.ministry.sandbox.beneficiaries import BackPayment, Beneficiary, Stop
from adapters.ministry.sandbox.state import SandboxState
from adapters.ministry.sandbox.store import Dossier

router = APIRouter()

STATUS_NAMES = {
    codes.CHO_TIEP_NHAN: "Chờ tiếp nhận",
    codes.DA_TIEP_NHAN: "Đã tiếp nhận",
    codes.TU_CHOI_TIEP_NHAN: "Từ chối tiếp nhận",
    codes.YEU_CAU_BO_SUNG: "Yêu cầu bổ sung",
    codes.DANG_THAM_DINH: "Đang thẩm định",
    codes.DA_PHE_DUYET: "Đã phê duyệt",
    codes.KHONG_PHE_DUYET: "Không phê duyệt",
    codes.DA_TRA_KET_QUA: "Đã trả kết quả",
}

# What the officer's button says for each target status.
ACTION_LABELS = {
    codes.DA_TIEP_NHAN: "Tiếp nhận",
    codes.TU_CHOI_TIEP_NHAN: "Từ chối tiếp nhận",
    codes.YEU_CAU_BO_SUNG: "Yêu cầu bổ sung",
    codes.DANG_THAM_DINH: "Chuyển thẩm định",
    codes.DA_PHE_DUYET: "Phê duyệt",
    codes.KHONG_PHE_DUYET: "Không phê duyệt",
    codes.DA_TRA_KET_QUA: "Trả kết quả",
}

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
h1{font-size:1.4rem} h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;width:100%} td,th{border:1px solid #ccc;padding:.4rem;vertical-align:top;text-align:left}
th{background:#f3f3f3} .muted{color:#777} form{display:inline-block;margin:.15rem .3rem .15rem 0}
input{font-size:.85rem;width:10rem} button{font-size:.85rem} ul{margin:0;padding-left:1.1rem}
.lookup td{background:#fff8e6}
"""


@router.get("/", response_class=HTMLResponse)
async def page(state: State) -> HTMLResponse:
    """The officer's page."""
    return HTMLResponse(render(state), headers={"Cache-Control": "no-store"})


def render(state: SandboxState) -> str:
    """The whole page as HTML."""
    pending = state.store.dossiers(queue="cho-tiep-nhan", statuses=[codes.CHO_TIEP_NHAN])
    others = [d for d in state.store.dossiers(queue="cho-tiep-nhan") if d.status != codes.CHO_TIEP_NHAN]
    lookup = state.store.dossiers(queue="tra-cuu")
    beneficiaries = state.beneficiaries.all()
    stops = state.beneficiaries.stops()
    back_payments = state.beneficiaries.back_payments()
    return f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{state.config.page_refresh_seconds}">
<title>Sandbox — phần mềm trợ giúp xã hội</title><style>{_STYLE}</style></head>
<body>
<h1>Sandbox của Bộ — phần mềm đăng ký, giải quyết chính sách trợ giúp xã hội</h1>
<p class="muted">Trang tự làm mới mỗi {state.config.page_refresh_seconds} giây.
JSON: <a href="/_sandbox/cho-tiep-nhan">/_sandbox/cho-tiep-nhan</a>,
<a href="/_sandbox/ho-so">/_sandbox/ho-so</a>, <a href="/_sandbox/tra-cuu">/_sandbox/tra-cuu</a>,
<a href="/_sandbox/requests">/_sandbox/requests</a>, <a href="/_sandbox/faults">/_sandbox/faults</a>,
<a href="/_sandbox/doi-tuong">/_sandbox/doi-tuong</a>, <a href="/_sandbox/thoi-huong">/_sandbox/thoi-huong</a>,
<a href="/_sandbox/truy-linh">/_sandbox/truy-linh</a>.</p>
<h2>Hồ sơ chờ tiếp nhận ({len(pending)})</h2>
{_table(state, pending, lookup=False)}
<h2>Hồ sơ đang xử lý ({len(others)})</h2>
{_table(state, others, lookup=False)}
<h2>Tra cứu — nhập cũ, không tiếp nhận được ({len(lookup)})</h2>
{_table(state, lookup, lookup=True)}
<h2>Đối tượng hưởng trợ cấp ({len(beneficiaries)})</h2>
{_beneficiaries(beneficiaries)}
<h2>Thôi hưởng đã ghi nhận ({len(stops)})</h2>
{_stops(stops)}
<h2>Truy lĩnh đã ghi nhận ({len(back_payments)})</h2>
{_back_payments(back_payments)}
</body></html>"""


def _table(state: SandboxState, dossiers: list[Dossier], *, lookup: bool) -> str:
    if not dossiers:
        return '<p class="muted">Không có hồ sơ.</p>'
    rows = "\n".join(_row(state, d, lookup=lookup) for d in dossiers)
    action_head = "" if lookup else "<th>Thao tác của cán bộ</th>"
    css = ' class="lookup"' if lookup else ""
    return (
        f"<table{css}><tr><th>Mã hồ sơ</th><th>Đối tượng</th><th>Thủ tục / ngày nộp</th>"
        f"<th>Thành phần hồ sơ</th><th>Trạng thái</th>{action_head}</tr>\n{rows}</table>"
    )


def _row(state: SandboxState, dossier: Dossier, *, lookup: bool) -> str:
    body = dossier.body
    person = body.get("doiTuong") or {}
    files = state.store.files_of(dossier)
    components = []
    for comp in dossier.components:
        links = []
        for file_id in comp["tepTinIds"]:
            stored = files.get(file_id)
            label = escape(stored.name if stored else file_id)
            size = f" ({stored.size:,} B)" if stored else ""
            href = f"/_sandbox/tep-tin/{quote(file_id, safe='')}"
            links.append(f'<a href="{href}">{label}</a>{escape(size)}')
        components.append(
            f"<li><b>{escape(str(comp['maThanhPhan']))}</b> {escape(str(comp['tenThanhPhan']))}: "
            f"{', '.join(links)}</li>"
        )
    status = "—" if dossier.status is None else escape(STATUS_NAMES.get(dossier.status, dossier.status))
    last = dossier.history[-1] if dossier.history else {}
    extra = "".join(
        f"<br><span class=muted>{escape(k)}: {escape(str(last[k]))}</span>"
        for k in ("canBo", "lyDo", "quyetDinh", "doiTuongId", "thangChiTraDauTien") if k in last
    )
    cells = (
        f"<td>{escape(dossier.code)}<br><span class=muted>{escape(dossier.id)} · {escape(dossier.owner)}</span></td>"
        f"<td>{escape(str(person.get('hoTen', '')))}<br><span class=muted>"
        f"{escape(str(person.get('nhomDoiTuong', '')))}</span></td>"
        f"<td>{escape(str(body.get('maThuTuc', '')))}<br><span class=muted>"
        f"{escape(str(body.get('ngayNop', '')))}</span></td>"
        f"<td><ul>{''.join(components)}</ul></td>"
        f"<td>{status}{extra}</td>"
    )
    if not lookup:
        cells += f"<td>{_actions(dossier)}</td>"
    return f"<tr>{cells}</tr>"


def _actions(dossier: Dossier) -> str:
    allowed = codes.OFFICER_TRANSITIONS.get(str(dossier.status), frozenset())
    action = f"/_sandbox/ho-so/{quote(dossier.id, safe='')}/hanh-dong"
    forms = []
    for target in codes.STATUSES:
        if target not in allowed:
            continue
        field = codes.STATUS_EXTRA_FIELD.get(target)
        inputs = ""
        if field == "canBo":
            inputs = f'<input name="canBo" placeholder="cán bộ" value="{escape(codes.DEFAULT_OFFICER)}">'
        elif field == "lyDo":
            inputs = '<input name="lyDo" placeholder="lý do">'
        elif field == "quyetDinh":
            inputs = ('<input name="so" placeholder="số QĐ"><input name="mucHuongThang" placeholder="mức hưởng (VND)">'
                      '<input name="thangBatDauHuong" placeholder="bắt đầu hưởng (YYYY-MM)">'
                      '<input name="thangChiTraDauTien" placeholder="chi trả đầu tiên (YYYY-MM)">')
        forms.append(
            f'<form method="post" action="{action}"><input type="hidden" name="trangThai" value="{target}">'
            f"{inputs}<button>{escape(ACTION_LABELS[target])}</button></form>"
        )
    return "".join(forms) or '<span class="muted">—</span>'


STOP_REASON_NAMES = {"CHET": "Chết", "KHONG_DU_DIEU_KIEN": "Không đủ điều kiện"}


def _vnd(amount: int) -> str:
    """``1.500.000`` (Vietnamese thousands separator)."""
    return f"{amount:,}".replace(",", ".")


def _beneficiaries(records: list[Beneficiary]) -> str:
    if not records:
        return '<p class="muted">Không có đối tượng.</p>'
    rows = "\n".join(
        f"<tr><td>{escape(b.id)}<br><span class=muted>{escape(b.hoSoId)}</span></td>"
        f"<td>{escape(b.hoTen)}<br><span class=muted>{escape(b.soDinhDanh)} · {escape(b.ngaySinh)} · "
        f"{escape(b.gioiTinh)}</span></td>"
        f"<td>{escape(b.nhomDoiTuong)}<br><span class=muted>xã {escape(b.maXa)}</span></td>"
        f"<td>{escape(b.trangThaiHuong)}"
        + (f"<br><span class=muted>từ tháng {escape(b.thangThoiHuong)}</span>" if b.thangThoiHuong else "")
        + f"</td><td>{_vnd(b.mucHuongThang)}</td><td>{escape(b.thangBatDauHuong)}</td>"
        f"<td>{escape(b.daChiTraDenThang or '—')}</td></tr>"
        for b in records
    )
    return (
        "<table><tr><th>Mã đối tượng / hồ sơ</th><th>Họ tên</th><th>Nhóm</th><th>Trạng thái hưởng</th>"
        "<th>Mức hưởng tháng (VND)</th><th>Bắt đầu hưởng</th><th>Đã chi trả đến tháng</th></tr>\n"
        f"{rows}</table>"
    )


def _stops(stops: list[Stop]) -> str:
    if not stops:
        return '<p class="muted">Chưa có thôi hưởng nào.</p>'
    rows = []
    for stop in stops:
        body, recovery = stop.body, stop.answer.get("truyThu")
        if recovery is None:
            owed = '<span class="muted">không truy thu</span>'
        else:
            months = "".join(f"<li>{escape(m['thang'])}: {_vnd(m['soTien'])}</li>" for m in recovery["chiTiet"])
            owed = f"<b>{_vnd(recovery['soTien'])}</b><ul>{months}</ul>"
        basis = body.get("canCu") or {}
        rows.append(
            f"<tr><td>{escape(stop.time)}<br><span class=muted>{escape(stop.client_id)}</span></td>"
            f"<td>{escape(stop.beneficiary_id)}</td>"
            f"<td>{escape(STOP_REASON_NAMES.get(body['lyDo'], body['lyDo']))}<br><span class=muted>"
            f"{escape(body['ngaySuKien'])}</span></td>"
            f"<td>{escape(body['thangThoiHuong'])}</td><td>{owed}</td>"
            f"<td>{escape(str(basis.get('loai', '')))} {escape(str(basis.get('so', '')))}<br><span class=muted>"
            f"{escape(str(basis.get('ngay', '')))}</span>"
            + (f"<br>{escape(str(body['ghiChu']))}" if body.get("ghiChu") else "")
            + "</td></tr>"
        )
    return (
        "<table><tr><th>Thời điểm</th><th>Đối tượng</th><th>Lý do / ngày sự kiện</th><th>Thôi hưởng từ tháng</th>"
        "<th>Truy thu (VND)</th><th>Căn cứ</th></tr>\n" + "\n".join(rows) + "</table>"
    )


def _back_payments(made: list[BackPayment]) -> str:
    if not made:
        return '<p class="muted">Chưa có truy lĩnh nào.</p>'
    rows = []
    for item in made:
        body, basis = item.body, item.body["canCu"]
        months = "".join(f"<li>{escape(m['thang'])}: {_vnd(m['soTien'])}</li>" for m in body["chiTiet"])
        rows.append(
            f"<tr><td>{escape(item.time)}<br><span class=muted>{escape(item.client_id)}</span></td>"
            f"<td>{escape(str(item.answer['id']))}</td>"
            f"<td>{escape(body['doiTuongId'])}<br><span class=muted>{escape(body['hoSoId'])}</span></td>"
            f"<td>{escape(body['tuThang'])} – {escape(body['denThang'])}</td>"
            f"<td><b>{_vnd(body['soTien'])}</b><ul>{months}</ul></td>"
            f"<td>{escape(str(item.answer['thangChiTra']))}</td>"
            f"<td>{escape(str(basis['soQuyetDinh']))}<br><span class=muted>{escape(str(basis['ngayQuyetDinh']))}"
            "</span></td></tr>"
        )
    return (
        "<table><tr><th>Thời điểm</th><th>Mã truy lĩnh</th><th>Đối tượng / hồ sơ</th><th>Các tháng</th>"
        "<th>Số tiền (VND)</th><th>Bảng chi trả tháng</th><th>Quyết định</th></tr>\n" + "\n".join(rows) + "</table>"
    )
