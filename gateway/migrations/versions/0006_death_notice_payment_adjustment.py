"""death_notice (the linked death procedure's notices and steps) and payment_adjustment (truy thu, truy lĩnh)

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "death_notice",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("ma_ho_so_lien_thong", sa.String(64), nullable=False, unique=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("dossier_id", sa.String(32), nullable=True),
        sa.Column("client_name", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "payment_adjustment",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ma_ho_so", sa.String(64), nullable=False),
        sa.Column("beneficiary_id", sa.String(64), nullable=True),
        sa.Column("commune_code", sa.String(8), nullable=True),
        sa.Column("first_month", sa.String(7), nullable=False),
        sa.Column("last_month", sa.String(7), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("months", sa.JSON(), nullable=False),
        sa.Column("list_month", sa.String(7), nullable=False),
        sa.Column("ministry_answer", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_payment_adjustment_month", "payment_adjustment", ["list_month", "kind"])


def downgrade() -> None:
    op.drop_index("ix_payment_adjustment_month", table_name="payment_adjustment")
    op.drop_table("payment_adjustment")
    op.drop_table("death_notice")
