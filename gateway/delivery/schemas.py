"""Answer shapes of the delivery-conflict admin routes: no personal values (field paths and component codes)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from gateway.dossiers.schemas import ConflictState
from gateway.vocabulary import ConflictAction


class ConflictItem(ConflictState):
    """A dossier in delivery state ``conflict`` and why."""

    MaHoSo: str


class ConflictPage(BaseModel):
    """Dossiers in ``conflict``, latest first."""

    items: list[ConflictItem]
    count: int = Field(description="how many match, all pages together")


class ResolveRequest(BaseModel):
    """An administrator's decision on a dossier in ``conflict`` (audited)."""

    model_config = ConfigDict(extra="forbid")

    action: ConflictAction = Field(description="accept: the ministry's copy stands, the revision is recorded "
                                               "delivered; retry: deliver it again (compared afresh)")
    reason: str = Field(min_length=1, max_length=500)


class ResolveResult(BaseModel):
    """What became of the dossier."""

    MaHoSo: str
    revision: int
    action: ConflictAction
    state: str = Field(description="delivered (accept) or queued (retry)")
