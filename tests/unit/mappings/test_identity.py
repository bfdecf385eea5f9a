"""What a population-database answer means (mappings.identity.judge): outcome, fields at fault, hold or not."""

from __future__ import annotations

import pytest

from mappings.identity import IdentityOutcome, disagreement_text, judge

ALLOWANCE, FUNERAL = "monthly_allowance", "funeral_support"


@pytest.mark.parametrize(("answer", "kind", "outcome", "fields", "disagrees"), [
    (("KHOP", [], False), ALLOWANCE, IdentityOutcome.VERIFIED, (), False),
    (("SAI_LECH", ["ngaySinh"], False), ALLOWANCE, IdentityOutcome.MISMATCH, ("DuLieuToKhai.NgaySinh",), True),
    (("SAI_LECH", ["gioiTinh", "hoTen"], False), ALLOWANCE, IdentityOutcome.MISMATCH,
     ("DuLieuToKhai.HoTen", "DuLieuToKhai.GioiTinh"), True),  # in the declaration's order, whatever the answer's
    (("KHONG_TIM_THAY", [], False), ALLOWANCE, IdentityOutcome.NOT_FOUND, ("DuLieuToKhai.SoDinhDanh",), True),
    (("KHOP", [], True), ALLOWANCE, IdentityOutcome.DECEASED, (), True),
    # A funeral dossier is about a dead person: daMat confirms it, its absence is the database lagging.
    (("KHOP", [], True), FUNERAL, IdentityOutcome.VERIFIED, (), False),
    (("KHOP", [], False), FUNERAL, IdentityOutcome.VERIFIED, (), False),
    (("SAI_LECH", ["hoTen"], True), FUNERAL, IdentityOutcome.MISMATCH, ("DuLieuToKhai.HoTen",), True),
    (("KHONG_TIM_THAY", [], False), FUNERAL, IdentityOutcome.NOT_FOUND, ("DuLieuToKhai.SoDinhDanh",), True),
    (("SAI_LECH", ["soThich"], False), ALLOWANCE, IdentityOutcome.MISMATCH, ("DuLieuToKhai.SoDinhDanh",), True),
])
def test_judge(answer: tuple[str, list[str], bool], kind: str, outcome: IdentityOutcome, fields: tuple[str, ...],
               disagrees: bool) -> None:
    found = judge(*answer, procedure_kind=kind)
    assert (found.outcome, found.fields, found.disagrees) == (outcome, fields, disagrees)


def test_a_funeral_dossier_the_database_does_not_know_dead_is_noted_not_held() -> None:
    assert judge("KHOP", [], False, procedure_kind=FUNERAL).note
    assert judge("KHOP", [], True, procedure_kind=FUNERAL).note is None
    assert judge("KHOP", [], False, procedure_kind=ALLOWANCE).note is None


def test_the_text_names_fields_never_values() -> None:
    text = disagreement_text(judge("SAI_LECH", ["ngaySinh", "hoTen"], False, procedure_kind=ALLOWANCE))
    assert "DuLieuToKhai.HoTen, DuLieuToKhai.NgaySinh" in text
    assert "đã mất" in disagreement_text(judge("KHOP", [], True, procedure_kind=ALLOWANCE))
    assert "định danh" in disagreement_text(judge("KHONG_TIM_THAY", [], False, procedure_kind=ALLOWANCE))
