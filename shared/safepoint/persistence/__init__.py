"""Safepoint's persistence: SQLAlchemy Core tables, the unit of work, Alembic migrations."""
