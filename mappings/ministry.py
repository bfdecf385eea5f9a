"""Build the ministry's request bodies (ministry-api.md §5) from a validated :class:`~mappings.model.Dossier`.

:func:`to_ministry_body` is the body of ``POST /api/v1/ho-so/cho-tiep-nhan`` (the pending-reception
queue), :func:`to_supplement_body` the body of ``POST /api/v1/ho-so/{id}/bo-sung``. Both are pure:
the files must already be uploaded (``POST /api/v1/tep-tin``) and their ministry ids are passed in
``file_ids``, keyed by the province's ``TepDinhKemId``.

Both raise :class:`ValueError` when the input cannot make a correct body (a document without a
ministry file id, a code missing from the tables): a wrong body would be refused, or worse, accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

from mappings.dates import to_iso
from mappings.model import Document, Dossier, PartialDate
from mappings.tables import channel_code, component, gender_code, note_text

_K = TypeVar("_K")

# Separates the caller's note from the notes the mapping adds, within one ghiChu.
NOTE_SEPARATOR = "\n"


def _code(lookup: Callable[[_K], str | None], value: _K, what: str) -> str:
    found = lookup(value)
    if found is None:
        raise ValueError(f"no ministry code for {what} {value!r}")
    return found


def birth_date_for_ministry(birth: PartialDate) -> tuple[str, str | None]:
    """``ngaySinh`` as ``YYYY-MM-DD`` and, for a partial date, the ``ghiChu`` sentence saying so.

    The ministry's dates have no partial form, so ``MM/yyyy`` becomes the first of the month and
    ``yyyy`` the first of January; the note (``notes.yaml``) tells the officer that day is a stand-in.
    """
    month = 1 if birth.month is None else birth.month
    day = 1 if birth.day is None else birth.day
    iso = f"{birth.year:04d}-{month:02d}-{day:02d}"
    if birth.is_complete:
        return iso, None
    first = f"{day:02d}/{month:02d}/{birth.year:04d}"
    if birth.month is None:
        return iso, note_text("birth_date_year_only", year=birth.year, first=first)
    return iso, note_text("birth_date_month_year", month=birth.month, year=birth.year, first=first)


def _join_notes(*notes: str | None) -> str | None:
    kept = [n.strip() for n in notes if n is not None and n.strip()]
    return NOTE_SEPARATOR.join(kept) or None


def _component_name(code: str) -> str:
    found = component(code)
    if found is None:
        raise ValueError(f"unknown dossier component {code!r}")
    return found.name


def _components(documents: Sequence[Document], file_ids: Mapping[str, str]) -> list[dict[str, Any]]:
    """One ``thanhPhanHoSo`` entry per component code, in order of first appearance."""
    grouped: dict[str, list[str]] = {}
    for doc in documents:
        ministry_id = file_ids.get(doc.file_id)
        if not ministry_id:
            raise ValueError(f"no ministry file id for TepDinhKemId {doc.file_id!r}")
        grouped.setdefault(doc.component_code, []).append(ministry_id)
    return [
        {"maThanhPhan": code, "tenThanhPhan": _component_name(code), "tepTinIds": ids}
        for code, ids in grouped.items()
    ]


def to_ministry_body(dossier: Dossier, file_ids: Mapping[str, str], *, note: str | None = None) -> dict[str, Any]:
    """The JSON body of ``POST /api/v1/ho-so/cho-tiep-nhan`` for ``dossier`` (ministry-api.md §5).

    ``file_ids`` maps every document's ``TepDinhKemId`` to the ministry file id (``TT-…``) it was
    uploaded as; ``note`` is an optional ``ghiChu`` sentence. Times become ISO 8601 at +07:00, the
    birth date ``YYYY-MM-DD`` (a partial one: the first day of its period, explained in ``ghiChu``),
    gender and channel their ministry codes. Address codes are the ones in force (already
    translated from pre-2025 codes). Raises :class:`ValueError` for a document without a file id.
    """
    ben = dossier.beneficiary
    applicant = dossier.applicant
    birth, birth_note = birth_date_for_ministry(ben.birth_date)
    return {
        "maHoSoTinh": dossier.code,
        "maThuTuc": dossier.procedure_code,
        "ngayNop": to_iso(dossier.received_at),
        "ngayHenTra": to_iso(dossier.due_at) if dossier.due_at is not None else None,
        "kenhNop": _code(channel_code, dossier.channel, "channel"),
        "maDonViTiepNhan": dossier.processing_unit,
        "nguoiNop": {
            "hoTen": applicant.full_name,
            "soDinhDanh": applicant.personal_id,
            "soDienThoai": applicant.phone,
            "quanHeVoiDoiTuong": ben.relation_to_applicant,
        },
        "doiTuong": {
            "hoTen": ben.full_name,
            "ngaySinh": birth,
            "gioiTinh": _code(gender_code, ben.gender, "gender"),
            "soDinhDanh": ben.personal_id,
            "maDanToc": ben.ethnic_code,
            "noiThuongTru": {
                "maTinh": ben.residence.province_code,
                "maXa": ben.residence.commune_code,
                "diaChiChiTiet": ben.residence.detail,
            },
            "nhomDoiTuong": ben.group_code,
        },
        "thanhPhanHoSo": _components(dossier.documents, file_ids),
        "ghiChu": _join_notes(note, birth_note),
    }


def to_supplement_body(
    dossier: Dossier,
    file_ids: Mapping[str, str],
    component_codes: Collection[str],
    *,
    note: str | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST /api/v1/ho-so/{id}/bo-sung``: only the components ``component_codes``.

    Entries are built as in :func:`to_ministry_body` and keep the dossier's document order whatever
    the order of ``component_codes`` (the body is hashed for idempotency). ``file_ids`` needs only the
    files of those components. ``ghiChu`` is ``note``, else a sentence listing what is supplemented.
    Raises :class:`ValueError` when ``component_codes`` is empty or names a component the dossier
    does not carry, or a file id is missing.
    """
    wanted = {component_codes} if isinstance(component_codes, str) else set(component_codes)
    if not wanted:
        raise ValueError("a supplement needs at least one component")
    absent = wanted - {doc.component_code for doc in dossier.documents}
    if absent:
        raise ValueError(f"components not in dossier {dossier.code}: {', '.join(sorted(absent))}")
    entries = _components([doc for doc in dossier.documents if doc.component_code in wanted], file_ids)
    default = note_text(
        "supplement_default",
        components=", ".join(f"{e['tenThanhPhan']} ({e['maThanhPhan']})" for e in entries),
    )
    return {"thanhPhanHoSo": entries, "ghiChu": _join_notes(note) or default}
