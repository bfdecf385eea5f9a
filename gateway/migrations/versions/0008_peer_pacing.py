"""peer_budget (the peers' rate budgets) and outbox_circuit (circuit breakers), shared by every process

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nothing in these rows is worth a crash's recovery (a lost row is a full bucket, a closed circuit):
    # on PostgreSQL they skip the write-ahead log.
    postgres = op.get_bind().dialect.name == "postgresql"
    unlogged: dict[str, Any] = {"prefixes": ["UNLOGGED"]} if postgres else {}
    op.create_table(
        "peer_budget",
        sa.Column("peer", sa.String(32), primary_key=True),
        sa.Column("tat", sa.Double(), nullable=False),
        sa.Column("not_before", sa.Double(), nullable=False),
        **unlogged,
    )
    op.create_table(
        "outbox_circuit",
        sa.Column("target", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.Double(), nullable=True),
        sa.Column("cool_down_s", sa.Double(), nullable=True),
        sa.Column("held_until", sa.Double(), nullable=False),
        sa.Column("probe_owner", sa.String(128), nullable=True),
        sa.Column("probe_until", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        **unlogged,
    )


def downgrade() -> None:
    op.drop_table("outbox_circuit")
    op.drop_table("peer_budget")
