"""The coordinator's database: SQLAlchemy 2 models, sessions, Alembic migrations, metrics."""
