"""identity_check: each revision's beneficiary checked against the population database

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_check",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("dossier_id", sa.String(32), sa.ForeignKey("dossier.id"), nullable=False),
        sa.Column("ma_ho_so", sa.String(64), nullable=False),
        sa.Column("revision_id", sa.String(32), sa.ForeignKey("dossier_revision.id"), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("deceased", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("commune_code", sa.String(8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(128), nullable=True),
        sa.UniqueConstraint("revision_id", name="uq_identity_check_revision"),
    )
    op.create_index("ix_identity_check_checked_at", "identity_check", ["checked_at"])


def downgrade() -> None:
    op.drop_index("ix_identity_check_checked_at", table_name="identity_check")
    op.drop_table("identity_check")
