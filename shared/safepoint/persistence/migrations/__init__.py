"""Alembic migrations of Safepoint's schema (run them with ``safepoint.persistence.migrate``)."""
