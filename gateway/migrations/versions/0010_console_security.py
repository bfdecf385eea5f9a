"""console_session_revoked (sessions ended by logout) and console_login_throttle (wrong login keys per address)

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_session_revoked",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_console_session_revoked_expires_at", "console_session_revoked", ["expires_at"])
    op.create_table(
        "console_login_throttle",
        sa.Column("address", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_console_login_throttle_updated_at", "console_login_throttle", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_console_login_throttle_updated_at", "console_login_throttle")
    op.drop_table("console_login_throttle")
    op.drop_index("ix_console_session_revoked_expires_at", "console_session_revoked")
    op.drop_table("console_session_revoked")
