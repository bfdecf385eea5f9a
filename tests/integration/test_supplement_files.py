"""What the ministry already holds of a dossier, counted as the supplement path counts it, on both engines."""

from __future__ import annotations

import hashlib
from collections import Counter

from sqlalchemy import select
from starlette.testclient import TestClient

from adapters.province.samples import sample_dossier, sample_pdf_bytes
from gateway.db import Database
from gateway.dossiers import repository as dossiers
from gateway.models import Dossier
from outbox.columns import utcnow
from tests.conftest import PROVINCE_KEY
from tests.support.intake import post_json


def _deliver(db: Database, code: str, revision: int) -> None:
    with db.session(write=True) as session:
        row = dossiers.lock_existing(session, code)
        assert row is not None
        job = dossiers.delivery_job(session, row.id, revision)
        assert job is not None
        dossiers.mark_delivered(session, job, utcnow(), ministry_id="HS-1", announced=True)
        session.execute(select(Dossier)).scalar_one().ministry_status = "YEU_CAU_BO_SUNG"


def test_a_file_is_held_as_many_times_as_the_delivered_revision_carrying_it_most(
    client: TestClient, db: Database
) -> None:
    page_1, page_2 = sample_pdf_bytes("trang 1"), sample_pdf_bytes("trang 2")
    one, two = hashlib.sha256(page_1).hexdigest(), hashlib.sha256(page_2).hexdigest()
    dossier = sample_dossier()
    code = dossier["MaHoSo"]
    assert post_json(client, PROVINCE_KEY, dossier, {"f1": page_1}).status_code == 202
    _deliver(db, code, 1)
    # Revision 2 adds a second page, and the same first page scanned into the component twice.
    documents = [{"TepDinhKemId": f, "TenTepDinhKem": f"{f}.pdf", "MaThanhPhanHoSo": "TK_1C"}
                 for f in ("f1", "f2", "f3")]
    revised = {**dossier, "TaiLieuNop": documents}
    assert post_json(client, PROVINCE_KEY, revised, {"f1": page_1, "f2": page_2, "f3": page_1}).status_code == 202
    with db.session() as session:
        row = dossiers.lock_existing(session, code)
        assert row is not None
        assert dossiers.delivered_files(session, row.id, 2) == Counter({("TK_1C", one): 1})
    _deliver(db, code, 2)
    with db.session() as session:
        assert dossiers.delivered_files(session, row.id, 1) == Counter({("TK_1C", one): 1})
        # Not three copies of page 1: revision 1's copy is among revision 2's.
        assert dossiers.delivered_files(session, row.id, 2) == Counter({("TK_1C", one): 2, ("TK_1C", two): 1})
