"""gateway: consumer API keys, tokens per miner and minute

Revision ID: 0004_gateway
Revises: 0003_auth
Create Date: 2026-11-25 14:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004_gateway"
down_revision: str | Sequence[str] | None = "0003_auth"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``gateway_keys`` (tensornode/gateway/models.py); add ``miner_requests.tokens``."""
    op.create_table(
        "gateway_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("rate_limit_per_min", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_gateway_keys_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_gateway_keys_key_hash")),
    )
    op.create_index(
        op.f("ix_gateway_keys_account_id"), "gateway_keys", ["account_id"], unique=False
    )
    with op.batch_alter_table("miner_requests") as batch:
        batch.add_column(sa.Column("tokens", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    """Drop what upgrade created."""
    with op.batch_alter_table("miner_requests") as batch:
        batch.drop_column("tokens")
    op.drop_index(op.f("ix_gateway_keys_account_id"), table_name="gateway_keys")
    op.drop_table("gateway_keys")
