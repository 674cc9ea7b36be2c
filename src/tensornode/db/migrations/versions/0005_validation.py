"""validation: validator registry, rounds and their per-probe evidence

Revision ID: 0005_validation
Revises: 0004_gateway
Create Date: 2026-11-25 14:45:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005_validation"
down_revision: str | Sequence[str] | None = "0004_gateway"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the validation tables (see tensornode/scoring/network/models.py)."""
    op.create_table(
        "validators",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_validators_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_validators")),
    )
    op.create_table(
        "validation_rounds",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("subnet", sa.String(length=40), nullable=False),
        sa.Column("validator_id", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("seed", sa.String(length=50), nullable=False),
        sa.Column("challenges", sa.Integer(), nullable=False),
        sa.Column("miners", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["validator_id"],
            ["accounts.id"],
            name=op.f("fk_validation_rounds_validator_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_validation_rounds")),
    )
    op.create_index("ix_validation_rounds_finished", "validation_rounds", ["finished_at"])
    op.create_index(op.f("ix_validation_rounds_subnet"), "validation_rounds", ["subnet"])
    op.create_index(
        op.f("ix_validation_rounds_validator_id"), "validation_rounds", ["validator_id"]
    )
    op.create_table(
        "validation_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("round_id", sa.String(length=32), nullable=False),
        sa.Column("miner_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("challenge_id", sa.String(length=64), nullable=False),
        sa.Column("challenge_hash", sa.String(length=64), nullable=False),
        sa.Column("family", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("latency_s", sa.Float(), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("speed", sa.Float(), nullable=False),
        sa.Column("verdict", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["miner_id"],
            ["miners.id"],
            name=op.f("fk_validation_results_miner_id_miners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["validation_rounds.id"],
            name=op.f("fk_validation_results_round_id_validation_rounds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_validation_results")),
    )
    op.create_index("ix_validation_results_miner_at", "validation_results", ["miner_id", "at"])
    op.create_index(op.f("ix_validation_results_round_id"), "validation_results", ["round_id"])


def downgrade() -> None:
    """Drop the validation tables."""
    op.drop_index(op.f("ix_validation_results_round_id"), table_name="validation_results")
    op.drop_index("ix_validation_results_miner_at", table_name="validation_results")
    op.drop_table("validation_results")
    op.drop_index(op.f("ix_validation_rounds_validator_id"), table_name="validation_rounds")
    op.drop_index(op.f("ix_validation_rounds_subnet"), table_name="validation_rounds")
    op.drop_index("ix_validation_rounds_finished", table_name="validation_rounds")
    op.drop_table("validation_rounds")
    op.drop_table("validators")
