"""vm_commands: the audit log of POST /vms/{id}/exec

Revision ID: 0007_vm_commands
Revises: 0006_hedera
Create Date: 2026-12-03 08:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007_vm_commands"
down_revision: str | Sequence[str] | None = "0006_hedera"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create vm_commands (see tensornode/db/models.py: VMCommand)."""
    op.create_table(
        "vm_commands",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("vm_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["vm_id"], ["vms.id"], name=op.f("fk_vm_commands_vm_id_vms"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vm_commands")),
    )
    with op.batch_alter_table("vm_commands", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vm_commands_vm_id"), ["vm_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_vm_commands_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_vm_commands_at"), ["at"], unique=False)


def downgrade() -> None:
    op.drop_table("vm_commands")
