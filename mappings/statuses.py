"""The ministry statuses the gateway's own logic names, each checked against ``data/ministry_statuses.csv``.

The data file is the source (names, national status, finality); these constants exist so that code
saying "pending reception" says it once, and an import fails loudly if the file loses one.
"""

from __future__ import annotations

from typing import Final

from mappings.tables import ministry_status


def _known(code: str) -> str:
    if ministry_status(code) is None:
        raise LookupError(f"ministry status {code!r} is missing from mappings/data/ministry_statuses.csv")
    return code


PENDING_RECEPTION: Final = _known("CHO_TIEP_NHAN")
SUPPLEMENT_REQUESTED: Final = _known("YEU_CAU_BO_SUNG")
APPROVED: Final = _known("DA_PHE_DUYET")
