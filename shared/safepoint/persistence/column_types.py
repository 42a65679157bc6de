"""Column types that turn database values into the Python values the core expects.

``UtcDateTime`` keeps every timestamp timezone-aware UTC on both PostgreSQL and SQLite
(which drops the zone); ``JsonDict`` and ``JsonTuple`` store small structures as JSON
text; ``StrEnumText`` stores an enum as its string value.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, Dialect, String, Text
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC ``datetime``; naive datetimes are refused with ``ValueError``."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert ``value`` to UTC (naive for SQLite, which cannot keep the zone)."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: give it a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return ``value`` as an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class JsonDict(TypeDecorator[dict[str, Any]]):
    """A JSON object stored as text; ``None`` is stored as ``{}``."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: dict[str, Any] | None, dialect: Dialect) -> str:
        """Serialize ``value`` compactly."""
        return json.dumps(value or {}, separators=(",", ":"))

    def process_result_value(self, value: str | None, dialect: Dialect) -> dict[str, Any]:
        """Parse the stored text back into a dict."""
        return {} if not value else dict(json.loads(value))


class JsonTuple(TypeDecorator[tuple[Any, ...]]):
    """A tuple stored as a JSON array; ``None`` is stored as ``[]``."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: tuple[Any, ...] | None, dialect: Dialect) -> str:
        """Serialize ``value`` as a JSON array."""
        return json.dumps(list(value or ()), separators=(",", ":"))

    def process_result_value(self, value: str | None, dialect: Dialect) -> tuple[Any, ...]:
        """Parse the stored array back into a tuple."""
        return () if not value else tuple(json.loads(value))


class StrEnumText(TypeDecorator[StrEnum]):
    """A ``StrEnum`` member stored as its string value."""

    impl = String(32)
    cache_ok = True

    def __init__(self, enum_type: type[StrEnum]) -> None:
        super().__init__()
        self.enum_type = enum_type

    def process_bind_param(self, value: StrEnum | str | None, dialect: Dialect) -> str | None:
        """Store the member's value (a valid plain string is accepted too)."""
        return None if value is None else self.enum_type(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> StrEnum | None:
        """Return the enum member for the stored value."""
        return None if value is None else self.enum_type(value)
