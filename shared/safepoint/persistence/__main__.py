"""``python -m safepoint.persistence``: apply the database migrations (Alembic)."""

from safepoint.persistence.migrate import main

raise SystemExit(main())
