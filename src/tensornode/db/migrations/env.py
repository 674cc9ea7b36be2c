"""Alembic environment: the URL comes from ``config.attributes`` (see db/session.py)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from tensornode.db.models import Base

config = context.config


def run_migrations_online() -> None:
    """Run migrations on a short-lived synchronous engine."""
    url = config.attributes["sqlalchemy_url"]
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
