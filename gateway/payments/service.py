"""The payment adjustments as the month's payment list reads them."""

from __future__ import annotations

import csv
import io

from gateway.db import Database
from gateway.dossiers import repository as dossiers
from gateway.payments import repository
from gateway.payments.schemas import Adjustment, AdjustmentPage, CommuneTotal, DecisionCheck, MonthAmount
from gateway.vocabulary import DossierEventKind

CSV_COLUMNS = ("kind", "MaHoSo", "beneficiaryId", "maXa", "firstMonth", "lastMonth", "months", "amount", "listMonth",
               "detail", "createdAt")


def adjustments(db: Database, *, month: str | None = None, kind: str | None = None, ma_ho_so: str | None = None,
                commune: str | None = None, limit: int = 1000, offset: int = 0) -> AdjustmentPage:
    """Adjustments of payment list ``month`` (YYYY-MM), ``kind`` and commune, newest first, with the totals per
    commune and kind of those listed."""
    with db.session() as session:
        count, rows = repository.page(session, month=month, kind=kind, ma_ho_so=ma_ho_so, commune=commune,
                                      limit=limit, offset=offset)
        items = [Adjustment(id=r.id, kind=r.kind, MaHoSo=r.ma_ho_so, beneficiaryId=r.beneficiary_id,
                            maXa=r.commune_code, firstMonth=r.first_month, lastMonth=r.last_month,
                            months=[MonthAmount(**m) for m in r.months], amount=r.amount, listMonth=r.list_month,
                            ministryAnswer=r.ministry_answer, createdAt=r.created_at) for r in rows]
    totals: dict[tuple[str, str], list[int]] = {}
    for item in items:
        entry = totals.setdefault((item.maXa or "", item.kind), [0, 0])
        entry[0] += 1
        entry[1] += item.amount
    by_commune = [CommuneTotal(maXa=commune_code or None, kind=kind_, count=n, amount=amount)
                  for (commune_code, kind_), (n, amount) in sorted(totals.items())]
    return AdjustmentPage(items=items, count=count, total=sum(i.amount for i in items), byCommune=by_commune)


def adjustments_csv(page: AdjustmentPage) -> str:
    """One line per adjustment; ``detail`` is ``YYYY-MM:amount`` per month joined by ``;``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for a in page.items:
        writer.writerow([a.kind, a.MaHoSo, a.beneficiaryId or "", a.maXa or "", a.firstMonth, a.lastMonth,
                         len(a.months), a.amount, a.listMonth, ";".join(f"{m.thang}:{m.soTien}" for m in a.months),
                         a.createdAt.isoformat()])
    return out.getvalue()


def decision_mismatches(db: Database, *, limit: int = 100) -> list[DecisionCheck]:
    """The latest approvals whose amount disagrees with its month's (or could not be checked), newest first."""
    with db.session() as session:
        found = dossiers.events_of_kind(session, DossierEventKind.DECISION_CHECKED, limit=limit * 5)
    checks = [DecisionCheck(MaHoSo=code, at=event.at, decided=(event.detail or {}).get("decided"),
                            expected=(event.detail or {}).get("expected"), reason=(event.detail or {}).get("reason"))
              for code, event in found if (event.detail or {}).get("agrees") is False]
    return checks[:limit]
