"""Input checks shared by every command. Each raises InvalidCommand naming the field."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from enum import Enum

from domain.errors import InvalidCommand

MAX_TEXT = 2000
MAX_NAME = 200


def text(field: str, value: str, *, limit: int = MAX_TEXT) -> str:
    cleaned = (value or "").strip()
    if not cleaned:
        raise InvalidCommand(f"{field} must not be empty")
    if len(cleaned) > limit:
        raise InvalidCommand(f"{field} is {len(cleaned)} characters long; the limit is {limit}")
    if unstorable(cleaned):
        raise InvalidCommand(f"{field} holds a NUL character or an unpaired surrogate")
    return cleaned


def unstorable(text: str) -> bool:
    """NUL, which PostgreSQL refuses in text, or a lone surrogate, which no UTF-8 can hold:
    accepted, either would be stored in an event that no projection can then write."""
    return "\x00" in text or any("\ud800" <= ch <= "\udfff" for ch in text)


def optional_text(field: str, value: str | None, *, limit: int = MAX_NAME) -> str | None:
    return None if value is None else text(field, value, limit=limit)


def member(field: str, value: str, vocabulary: type[Enum]) -> str:
    allowed = [item.value for item in vocabulary]
    if value not in allowed:
        raise InvalidCommand(f"{field} must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def not_in_future(field: str, day: date, today: date) -> None:
    if day > today:
        raise InvalidCommand(f"{field} {day.isoformat()} is in the future (today is {today})")


def not_before(field: str, day: date, earliest: date, what: str) -> None:
    if day < earliest:
        raise InvalidCommand(
            f"{field} {day.isoformat()} is before {what} ({earliest.isoformat()})"
        )


def names(field: str, values: Iterable[str]) -> list[str]:
    cleaned = [text(f"{field} member", value, limit=MAX_NAME) for value in values]
    if not cleaned:
        raise InvalidCommand(f"{field} must name at least one person")
    return cleaned
