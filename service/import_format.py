"""The lines of an import file: one command per line, as JSON (see service.importer).

Each line names its command (`type`), the trainee it is about (`trainee`, the file's own
key) and optionally who did it (`actor`); every other member is a field of the command,
named in camelCase as the GraphQL API names it. This module reads one line into a
`Line` and says precisely what is wrong with it otherwise; the trainee's state (which
keys exist, what the domain allows) is the importer's business.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from domain import commands as c
from service.records import DECISIONS

# The command types a file may hold: enrollment and everything records.execute decides.
COMMANDS: tuple[type, ...] = (c.EnrollTrainee, *DECISIONS)
# Ids a line creates, by command and field: the kind of thing, for keys and messages.
CREATED = {
    (c.ScheduleRotation, "rotation_id"): "rotation",
    (c.RecordRotationEntry, "entry_id"): "entry",
    (c.RecordAssessment, "assessment_id"): "assessment",
    (c.RecordEthicsViolation, "violation_id"): "violation",
    (c.RecordPublication, "publication_id"): "publication",
}
# Ids a line refers to: the kind of thing an earlier line of the trainee created.
REFERRED = {"rotation_id": "rotation", "entry_id": "entry"}
_ABSENT = object()
_decode = json.JSONDecoder().decode
_TRAINEE_MEMBER = b'"trainee"'
_KEY_VALUE = re.compile(rb'\s*:\s*("[^"\\]*"|-?[0-9]+)\s*[,}]')
_BACKSLASH, _QUOTE = ord("\\"), ord('"')
_SHOWN_VALUE = 60  # characters of a wrong value quoted back


class LineError(Exception):
    """What is wrong with one line; `trainee` is its key when that much could be read."""

    def __init__(self, message: str, trainee: str | None = None):
        super().__init__(message)
        self.trainee = trainee


class _FieldProblem(Exception):
    pass


@dataclass(frozen=True)
class Field:
    name: str  # as the file names it
    attribute: str  # as the command names it
    read: Callable[[Any], Any]
    required: bool
    # For ids: the kind of thing, and whether this line creates it (else it refers to one).
    kind: str | None = None
    creates: bool = False


@dataclass(frozen=True)
class LineType:
    name: str
    command: type
    fields: tuple[Field, ...]

    @property
    def keyed(self) -> tuple[Field, ...]:
        """The fields that hold ids, by the file's keys."""
        return tuple(f for f in self.fields if f.kind is not None)

    @property
    def field_names(self) -> str:
        return ", ".join(f.name for f in self.fields)


@dataclass(slots=True)
class Line:
    number: int
    type: LineType
    trainee: str
    actor: str | None
    # The command's fields as read, by attribute; ids are still the file's keys.
    values: dict[str, Any]


def parse(raw: bytes, number: int) -> Line:
    """Reads one non-blank, non-comment line, or raises LineError saying what is wrong."""
    try:
        data = _decode(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise LineError("the line is not UTF-8 text") from None
    except ValueError as error:
        reason = getattr(error, "msg", str(error))
        column = getattr(error, "colno", None)
        raise LineError(f"not valid JSON: {reason}" + (f" (column {column})" if column else "")
                        ) from None
    if type(data) is not dict:
        raise LineError(f"a line must be a JSON object, got {_shown(data)}")
    trainee = data.pop("trainee", _ABSENT)
    if trainee is _ABSENT:
        raise LineError("missing field trainee (the trainee's key in this file)")
    try:
        trainee = read_key(trainee)
    except _FieldProblem as problem:
        raise LineError(f"trainee {problem}") from None
    type_name = data.pop("type", _ABSENT)
    line_type = LINE_TYPES.get(type_name) if isinstance(type_name, str) else None
    if line_type is None:
        said = "missing field type" if type_name is _ABSENT else f"unknown type {_shown(type_name)}"
        raise LineError(f"{said}; a line's type is one of {', '.join(LINE_TYPES)}", trainee)
    problems = []
    actor = data.pop("actor", None)
    if actor is not None and (not isinstance(actor, str) or not actor.strip()):
        problems.append(f"actor must be a non-empty string, got {_shown(actor)}")
        actor = None
    values: dict[str, Any] = {}
    for field in line_type.fields:
        value = data.pop(field.name, _ABSENT)
        if value is _ABSENT:
            if field.required:
                problems.append(f"missing field {field.name}")
            continue
        try:
            values[field.attribute] = field.read(value)
        except _FieldProblem as problem:
            problems.append(f"{field.name} {problem}")
    if data:
        unknown = ", ".join(sorted(data))
        problems.append(f"unknown field{'s' if len(data) > 1 else ''} {unknown} (a "
                        f"{line_type.name} line has {line_type.field_names})")
    if problems:
        raise LineError(f"{line_type.name}: " + "; ".join(problems), trainee)
    return Line(number, line_type, trainee, actor.strip() if actor else None, values)


def line_key(raw: bytes) -> str | None:
    """The line's trainee key, or None if the line has none that can be read.

    The file is grouped by trainee before its lines are parsed (perhaps elsewhere), so the
    key is found without parsing the whole line where that is unambiguous: one member
    named "trainee" whose value is a plain string or an integer. A quote that is not
    escaped delimits a string, so such a match is a member's name; anything less plain is
    left to the JSON parser.
    """
    at = raw.find(_TRAINEE_MEMBER)
    if at > 0 and raw[at - 1] != _BACKSLASH and raw.count(_TRAINEE_MEMBER) == 1:
        found = _KEY_VALUE.match(raw, at + len(_TRAINEE_MEMBER))
        if found is not None:
            value = found.group(1)
            if value[0] != _QUOTE:
                return str(int(value))
            with contextlib.suppress(UnicodeDecodeError):
                key = value[1:-1].decode("utf-8").strip()
                if key:
                    return key
    try:
        data = _decode(raw.decode("utf-8"))
        return read_key(data["trainee"]) if type(data) is dict and "trainee" in data else None
    except (ValueError, _FieldProblem):
        return None


def read_key(value: Any) -> str:
    """A key of the file's own: a non-empty string, or an integer (read as its digits)."""
    if type(value) is int:
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise _FieldProblem(f"must be a key (a non-empty string or an integer), got {_shown(value)}")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise _FieldProblem(f"must be a string, got {_shown(value)}")


def _boolean(value: Any) -> bool:
    if value is True or value is False:
        return value
    raise _FieldProblem(f"must be true or false, got {_shown(value)}")


def _integer(value: Any) -> int:
    if type(value) is int:
        return value
    raise _FieldProblem(f"must be an integer, got {_shown(value)}")


def _number(value: Any) -> float:
    if type(value) in (int, float):
        return float(value)
    raise _FieldProblem(f"must be a number, got {_shown(value)}")


def _date(value: Any) -> date:
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise _FieldProblem(f"must be a date as YYYY-MM-DD, got {_shown(value)}")


def _names(value: Any) -> list[str]:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise _FieldProblem(f"must be a list of strings, got {_shown(value)}")


def _object(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise _FieldProblem(f"must be a JSON object, got {_shown(value)}")


def _or_null(read: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def read_or_null(value: Any) -> Any:
        return None if value is None else read(value)

    return read_or_null


# The reader of each field type the commands use.
_READERS: dict[Any, Callable[[Any], Any]] = {
    str: _text,
    bool: _boolean,
    int: _integer,
    float: _number,
    date: _date,
    UUID: read_key,
    list[str]: _names,
    dict[str, Any]: _object,
}


def _reader(hint: Any) -> Callable[[Any], Any]:
    arguments = typing.get_args(hint)
    if type(None) in arguments:
        (inner,) = [argument for argument in arguments if argument is not type(None)]
        return _or_null(_READERS[inner])
    return _READERS[hint]


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _line_type(command: type) -> LineType:
    hints = typing.get_type_hints(command)
    fields = []
    for field in dataclasses.fields(command):
        if field.name == "trainee_id":
            continue  # the line's `trainee`
        created = CREATED.get((command, field.name))
        has_default = (field.default is not dataclasses.MISSING
                       or field.default_factory is not dataclasses.MISSING)
        fields.append(Field(
            name=camel_case(field.name),
            attribute=field.name,
            read=_reader(hints[field.name]),
            # A created id may be left out when no later line refers to it.
            required=not has_default and created is None,
            kind=created or (REFERRED.get(field.name) if hints[field.name] in (
                UUID, UUID | None) else None),
            creates=created is not None,
        ))
    return LineType(command.__name__, command, tuple(fields))


LINE_TYPES: dict[str, LineType] = {command.__name__: _line_type(command) for command in COMMANDS}


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _SHOWN_VALUE else text[: _SHOWN_VALUE - 3] + "..."
