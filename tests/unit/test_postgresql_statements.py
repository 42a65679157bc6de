"""The hot path's statements stay short enough for psycopg to cache their parsing.

psycopg converts a statement's text and parameters to PostgreSQL's form once per text,
in a cache that only takes texts of up to ``MAX_CACHED_STATEMENT_LENGTH`` characters
(and ``MAX_CACHED_STATEMENT_PARAMS`` parameters); a longer load would be parsed again on
every job (about 60 µs each, measured). Adding columns or collections to an instance
makes the load longer: this says when it has grown past the cache.
"""

from __future__ import annotations

import pytest
from psycopg import _queries

from safepoint.persistence import postgresql

LOADS = {
    f"{'locked, ' if locked else ''}{read}": sql
    for locked, statements in ((False, postgresql._LOAD), (True, postgresql._LOAD_LOCKED))
    for read, sql in statements.items()
} | {"the path": postgresql._PATH}


@pytest.mark.parametrize("name", sorted(LOADS))
def test_every_load_is_short_enough_for_psycopgs_statement_cache(name: str) -> None:
    assert len(LOADS[name]) <= _queries.MAX_CACHED_STATEMENT_LENGTH
    assert LOADS[name].count("%(") <= _queries.MAX_CACHED_STATEMENT_PARAMS
