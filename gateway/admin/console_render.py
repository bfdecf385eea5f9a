"""How the admin console renders: its Jinja2 templates, their filters, and the URLs of its pages."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from gateway.admin.console_session import ConsoleUser
from gateway.admin.reasons import field_label, label
from gateway.admin.timespec import format_duration
from gateway.logging import mask_text
from mappings.dates import VN_TZ

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def vn_time(value: str | datetime | None) -> str:
    """An ISO date-time as Vietnam local time, ``dd/mm/yyyy HH:MM:SS``."""
    if not value:
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M:%S")


def age(seconds: float | None) -> str:
    """A duration in words (``2 giờ 5 phút``); ``—`` for None."""
    return format_duration(seconds, style="words", missing="—")


_templates = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,  # every stored string is escaped; nothing is marked safe
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters.update(vn_time=vn_time, age=age, mask=mask_text)
_templates.globals.update(label=label, field_label=field_label)


def root(request: Request) -> str:
    """The console's URL path (``/admin`` under the app's root path)."""
    return str(request.scope.get("root_path", "")).rstrip("/") + "/admin"


def page(request: Request, template: str, *, user: ConsoleUser | None = None, status: int = 200,
         **context: Any) -> HTMLResponse:
    """``template`` rendered with ``context``, the console's root and the logged-in user."""
    html = _templates.get_template(template).render(root=root(request), user=user, **context)
    return HTMLResponse(html, status_code=status)


def flash(query: Mapping[str, str]) -> str | None:
    """The one-line report of the action a redirect came back from (``done=replay&n=3``)."""
    count = query.get("n", "")
    if not count.isdigit():
        return None
    n = int(count)
    if query.get("done") == "replay":
        return (f"Đã đưa {n} thông điệp vào hàng đợi gửi lại." if n
                else "Không có thông điệp nào được gửi lại (thông điệp không ở trạng thái thất bại hoặc đã hủy).")
    if query.get("done") == "cancel":
        return "Đã hủy thông điệp; có thể gửi lại khi cần." if n else None
    if query.get("done") == "bulk":
        return f"Đã đưa {n} thông điệp vào hàng đợi gửi lại."
    return None
