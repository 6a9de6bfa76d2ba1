"""Persistence: SQLAlchemy 2 tables, engine set-up, Alembic migrations and repositories."""
