"""alert_state: each alert condition (kind, target) shared by every process, so an alert goes out once

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_state",
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("target", sa.String(64), primary_key=True),
        sa.Column("observed_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("firing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unsent", sa.Integer(), nullable=False),
        sa.Column("first_unsent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_detail", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alert_state")
