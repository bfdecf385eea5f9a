"""What the dashboard draws: deliveries per minute and the undelivered backlog over the last 24 hours, and the
overdue dossiers per commune; the data as typed series, and the pictures as inline SVG (:mod:`gateway.admin.charts`).

Buckets of 15 minutes (96 points a day): deliveries are the messages finished done in each bucket, divided by 15
(a per-minute rate); the backlog is the number of messages undelivered at each bucket's end (created by then, not
finished by then), reconstructed from the messages' created and finished times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from markupsafe import Markup

from gateway.admin.charts import Bar, bar_chart, line_chart
from gateway.admin.journey import CommuneCount, overdue_counts
from gateway.admin.service import backlog_series, finished_series
from gateway.db import Database
from mappings.dates import VN_TZ
from outbox.columns import utcnow

SPAN = timedelta(hours=24)
BUCKET = timedelta(minutes=15)
TOP_COMMUNES = 20  # bars drawn; the table lists every commune


@dataclass(frozen=True)
class Trends:
    """The dashboard's series, oldest first: (bucket end, value)."""

    deliveries_per_minute: list[tuple[datetime, float]]
    backlog: list[tuple[datetime, int]]
    overdue_by_commune: list[CommuneCount]

    @property
    def delivered_total(self) -> int:
        """Messages delivered over the span."""
        return round(sum(v for _, v in self.deliveries_per_minute) * BUCKET.total_seconds() / 60)

    @property
    def backlog_peak(self) -> int:
        """The largest backlog at a bucket's end."""
        return max((v for _, v in self.backlog), default=0)


def trends(db: Database, now: datetime | None = None) -> Trends:
    """The series of the last 24 hours before ``now`` (the current time if not given)."""
    moment = now or utcnow()
    per_minute = BUCKET.total_seconds() / 60
    return Trends(
        deliveries_per_minute=[(end, round(n / per_minute, 2))
                               for end, n in finished_series(db, moment, span=SPAN, bucket=BUCKET)],
        backlog=backlog_series(db, moment, span=SPAN, bucket=BUCKET),
        overdue_by_commune=overdue_counts(db),
    )


def _hour_labels(moments: list[datetime]) -> list[tuple[int, str]]:
    """Every fourth hour's position (Vietnam time) under a line chart."""
    out = []
    for i, moment in enumerate(moments):
        local = moment.astimezone(VN_TZ)
        if local.minute < BUCKET.total_seconds() / 60 and local.hour % 4 == 0:
            out.append((i, local.strftime("%H:%M")))
    return out


def _svg(text: str) -> Markup:
    """An SVG of :mod:`gateway.admin.charts` as markup: charts escapes every text it writes into it."""
    # Built by charts, every text in it escaped there.
    return Markup(text)  # noqa: S704  # nosec B704


def pictures(found: Trends) -> dict[str, Markup]:
    """The three SVGs, ready to embed."""
    moments = [end for end, _ in found.deliveries_per_minute]
    bars = [Bar(c.maXa or "?", c.count) for c in found.overdue_by_commune[:TOP_COMMUNES]]
    return {
        "deliveries": _svg(line_chart(
            [v for _, v in found.deliveries_per_minute], _hour_labels(moments), chart_id="chart-deliveries",
            title="Gửi thành công mỗi phút, 24 giờ qua",
            desc=f"Trung bình mỗi phút trong từng khoảng 15 phút; tổng {found.delivered_total} thông điệp.")),
        "backlog": _svg(line_chart(
            [float(v) for _, v in found.backlog], _hour_labels([end for end, _ in found.backlog]),
            chart_id="chart-backlog", title="Thông điệp chưa gửi, 24 giờ qua",
            desc=f"Số thông điệp chờ gửi hoặc đang gửi ở cuối mỗi khoảng 15 phút; cao nhất {found.backlog_peak}.")),
        "overdue": _svg(bar_chart(
            bars, chart_id="chart-overdue", title="Hồ sơ quá hạn theo xã",
            desc=f"Số hồ sơ quá hạn của {len(bars)} xã có nhiều hồ sơ quá hạn nhất.")),
    }
