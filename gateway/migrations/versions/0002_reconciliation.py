"""reconciliation: ministry change log, feed cursor with lease, decision and deadline fields

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dossier") as batch:
        batch.add_column(sa.Column("ministry_status_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("is_final", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("announced", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("decision_number", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("decision_date", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("monthly_amount", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("first_month", sa.String(length=7), nullable=True))
    op.create_table(
        "ministry_change",
        sa.Column("change_key", sa.String(length=64), nullable=False),
        sa.Column("ministry_id", sa.String(length=64), nullable=False),
        sa.Column("ma_ho_so", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.Column("dossier_id", sa.String(length=32), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("change_key"),
    )
    op.create_index("ix_ministry_change_ministry_id", "ministry_change", ["ministry_id"])
    op.create_table(
        "sync_cursor",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("sync_cursor")
    op.drop_index("ix_ministry_change_ministry_id", table_name="ministry_change")
    op.drop_table("ministry_change")
    with op.batch_alter_table("dossier") as batch:
        for column in ("first_month", "monthly_amount", "decision_date", "decision_number", "announced", "is_final",
                       "ministry_status_at"):
            batch.drop_column(column)
