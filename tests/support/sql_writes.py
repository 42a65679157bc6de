"""Reading which writes a list of SQL statements makes, whether plain or as CTEs."""

from __future__ import annotations

import re

_WRITE = re.compile(r"\b(UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+(\w+)", re.IGNORECASE)


def writes(statements: list[str]) -> list[tuple[str, str]]:
    """``(verb, table)`` of every write in ``statements``, CTEs included, in order.

    SQLite gets one statement per table and kind of change; PostgreSQL one statement
    with a CTE for each: both read the same here.
    """
    return [
        (verb.split()[0].upper(), table)
        for sql in statements
        for verb, table in _WRITE.findall(sql)
    ]
