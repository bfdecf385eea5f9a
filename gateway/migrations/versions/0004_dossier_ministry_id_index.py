"""index on dossier.ministry_id: the reconciler looks dossiers up by the ministry's id

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_dossier_ministry_id", "dossier", ["ministry_id"])


def downgrade() -> None:
    op.drop_index("ix_dossier_ministry_id", table_name="dossier")
