"""hedera: payments owed and transactions stored before they are submitted

Revision ID: 0006_hedera
Revises: 0005_validation
Create Date: 2026-12-03 08:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_hedera"
down_revision: str | Sequence[str] | None = "0005_validation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the Hedera ledger's tables."""
    op.create_table(
        "hedera_payments",
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("destination", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=40), nullable=False),
        sa.Column("transaction_id", sa.String(length=80), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("idempotency_key", name=op.f("pk_hedera_payments")),
    )
    op.create_table(
        "hedera_transactions",
        sa.Column("transaction_id", sa.String(length=80), nullable=False),
        sa.Column("batch_key", sa.String(length=200), nullable=False),
        sa.Column("payment_keys", sa.Text(), nullable=False),
        sa.Column("memo", sa.String(length=100), nullable=False),
        sa.Column("signed_bytes", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("result", sa.String(length=60), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("transaction_id", name=op.f("pk_hedera_transactions")),
    )
    op.create_index(op.f("ix_hedera_transactions_batch_key"), "hedera_transactions", ["batch_key"])
    op.create_index(op.f("ix_hedera_transactions_status"), "hedera_transactions", ["status"])


def downgrade() -> None:
    """Drop the Hedera ledger's tables."""
    op.drop_index(op.f("ix_hedera_transactions_status"), table_name="hedera_transactions")
    op.drop_index(op.f("ix_hedera_transactions_batch_key"), table_name="hedera_transactions")
    op.drop_table("hedera_transactions")
    op.drop_table("hedera_payments")
