"""Code tables the sandbox checks against (contract §5–6, DOMAIN.md).

A local copy on purpose: the sandbox plays the ministry, so it must not share
the gateway's own tables (a wrong table would then agree with itself).
"""

from __future__ import annotations

from typing import Final

BENEFICIARY_GROUPS: Final = frozenset(
    {
        "TE_DUOI_4",
        "TE_4_16",
        "TN_16_22",
        "HIV_TE_NGHEO",
        "HIV_NGHEO",
        "DON_THAN_NGHEO",
        "NCT_NGHEO_KHONG_NGUOI_PHUNG_DUONG",
        "NCT_NGHEO_CO_NGUOI_PHUNG_DUONG",
        "NCT_75_DTTS",
        "NCT_80_KHONG_LUONG",
        "NCT_KHONG_NOI_NUONG_TUA",
        "NKT_DAC_BIET_NANG",
        "NKT_NANG",
        "TE_DUOI_3_DTTS_NGHEO",
    }
)

COMPONENT_CODES: Final = frozenset(
    {
        "TK_1A",
        "TK_1B",
        "TK_1C",
        "TK_1D",
        "TK_MAI_TANG",
        "GXN_KHUYET_TAT",
        "TRICH_LUC_KHAI_TU",
        "BAN_SAO_GIAY_TO_TUY_THAN",
        "GIAY_TO_KHAC",
    }
)

# Decision 121-TCTK/PPCĐ: 54 ethnic groups, two-digit codes.
ETHNIC_CODES: Final = frozenset(f"{n:02d}" for n in range(1, 55))

SUBMISSION_CHANNELS: Final = frozenset({"TRUC_TIEP", "TRUC_TUYEN", "BUU_CHINH"})
GENDERS: Final = frozenset({"NAM", "NU"})

FILE_TYPES: Final = frozenset({"application/pdf", "image/jpeg", "image/png"})

# Statuses (§6).
CHO_TIEP_NHAN: Final = "CHO_TIEP_NHAN"
DA_TIEP_NHAN: Final = "DA_TIEP_NHAN"
TU_CHOI_TIEP_NHAN: Final = "TU_CHOI_TIEP_NHAN"
YEU_CAU_BO_SUNG: Final = "YEU_CAU_BO_SUNG"
DANG_THAM_DINH: Final = "DANG_THAM_DINH"
DA_PHE_DUYET: Final = "DA_PHE_DUYET"
KHONG_PHE_DUYET: Final = "KHONG_PHE_DUYET"
DA_TRA_KET_QUA: Final = "DA_TRA_KET_QUA"

STATUSES: Final = (
    CHO_TIEP_NHAN,
    DA_TIEP_NHAN,
    TU_CHOI_TIEP_NHAN,
    YEU_CAU_BO_SUNG,
    DANG_THAM_DINH,
    DA_PHE_DUYET,
    KHONG_PHE_DUYET,
    DA_TRA_KET_QUA,
)

# The extra field each status carries in the change feed (§6).
STATUS_EXTRA_FIELD: Final[dict[str, str]] = {
    DA_TIEP_NHAN: "canBo",
    TU_CHOI_TIEP_NHAN: "lyDo",
    YEU_CAU_BO_SUNG: "lyDo",
    DA_PHE_DUYET: "quyetDinh",
    KHONG_PHE_DUYET: "lyDo",
}

# What an officer may do from each status. Not in the contract: the usual
# one-stop workflow (receive → appraise → decide → hand over), with a request
# for more documents possible at reception and during appraisal.
OFFICER_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    CHO_TIEP_NHAN: frozenset({DA_TIEP_NHAN, TU_CHOI_TIEP_NHAN, YEU_CAU_BO_SUNG}),
    DA_TIEP_NHAN: frozenset({DANG_THAM_DINH, YEU_CAU_BO_SUNG}),
    YEU_CAU_BO_SUNG: frozenset({DA_TIEP_NHAN, TU_CHOI_TIEP_NHAN}),
    DANG_THAM_DINH: frozenset({DA_PHE_DUYET, KHONG_PHE_DUYET, YEU_CAU_BO_SUNG}),
    DA_PHE_DUYET: frozenset({DA_TRA_KET_QUA}),
    KHONG_PHE_DUYET: frozenset({DA_TRA_KET_QUA}),
    TU_CHOI_TIEP_NHAN: frozenset(),
    DA_TRA_KET_QUA: frozenset(),
}

DEFAULT_OFFICER: Final = "can.bo.sandbox"
