"""Loads training standards and jurisdiction policies from YAML files.

The shipped files live in data/standards/ and data/policies/; a programme may add its own
directory with the same two folders. Training administrators, not programmers, write these
files, so every mistake is reported as one line that says where to look:
`file:line: field: problem`. The field tables at the end of this module list every field a
file may hold; the shipped files are the examples.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from domain.policies import COMPLETION_METHODS, PRIOR_CREDIT_LEVELS, Policy
from domain.regulations import Regulations
from domain.standards import DepartmentRequirement, TrainingStandard, normalise_name
from domain.values import AssessmentKind, DegreeCategory, EntryKind
from service.settings import ConfigurationError

SHIPPED_DIRECTORY = Path(__file__).parent / "data"
# Shipped files are named from the project root, so a message points into the source tree.
_SHIPPED_LABEL = Path("service") / "data"
_REQUIRED = object()
# Months are summed as floats (half-month rotations exist); don't refuse 32.999999.
_SLACK = 1e-6


class RegulationFileError(ConfigurationError):
    def __init__(self, file: str, line: int | None, field: str, problem: str):
        self.file, self.line, self.field, self.problem = file, line, field, problem
        where = file if line is None else f"{file}:{line}"
        super().__init__(f"{where}: {field}: {problem}" if field else f"{where}: {problem}")


@dataclass(frozen=True)
class _File:
    name: str
    constructor: SafeConstructor

    def error(self, node: yaml.Node, field: str, problem: str) -> RegulationFileError:
        return RegulationFileError(self.name, node.start_mark.line + 1, field, problem)


@dataclass(frozen=True)
class _Published:
    item: Any  # TrainingStandard | Policy
    file: str
    line: int
    field: str

    def refuse(self, problem: str, earlier: _Published) -> RegulationFileError:
        where = f"{earlier.file}:{earlier.line}"
        return RegulationFileError(self.file, self.line, self.field, f"{problem} {where}")


Convert = Callable[[_File, yaml.Node, str], Any]


def load_regulations(extra_directory: Path | str | None = None) -> Regulations:
    published = list(_read_directory(SHIPPED_DIRECTORY, _SHIPPED_LABEL))
    if extra_directory is not None:
        extra = Path(extra_directory)
        if not extra.is_dir():
            raise RegulationFileError(str(extra), None, "", "is not a directory")
        if not (extra / "standards").is_dir() and not (extra / "policies").is_dir():
            # Almost certainly the wrong directory; loading nothing from it would hide that.
            raise RegulationFileError(str(extra), None, "", "has neither standards/ nor policies/")
        published += _read_directory(extra, extra)
    standards = [p for p in published if isinstance(p.item, TrainingStandard)]
    policies = [p for p in published if isinstance(p.item, Policy)]
    _check_versions(standards, lambda s: s.specialty)
    _check_versions(policies, lambda p: p.jurisdiction)
    _check_specialty_names(standards)
    return Regulations(_share_aliases([p.item for p in standards]), [p.item for p in policies])


def _read_directory(directory: Path, label: Path) -> Iterator[_Published]:
    for folder, read in (("standards", _standard_file), ("policies", _policy_file)):
        for path in sorted((directory / folder).glob("*.y*ml")):
            name = str(label / folder / path.name)
            yield from read(_File(name, SafeConstructor()), _compose(path, name))


def _compose(path: Path, name: str) -> yaml.Node:
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        problem = error.problem or error.context
        if error.problem and error.context and error.context_mark:  # where the unclosed thing began
            problem += f" ({error.context} at line {error.context_mark.line + 1})"
        raise RegulationFileError(name, line, "", f"not valid YAML: {problem}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise RegulationFileError(name, None, "", f"cannot be read: {error}") from None
    if root is None:
        raise RegulationFileError(name, 1, "", "the file is empty")
    return root


def _check_versions(published: list[_Published], owner: Callable[[Any], str]) -> None:
    """Published versions are immutable, and on any day exactly one version is in force."""
    by_id: dict[str, _Published] = {}
    by_start: dict[tuple[str, date], _Published] = {}
    for p in published:
        if (earlier := by_id.setdefault(p.item.id, p)) is not p:
            raise p.refuse(f"{p.item.id} is already published in", earlier)
        start = (normalise_name(owner(p.item)), p.item.effective_from)
        if (earlier := by_start.setdefault(start, p)) is not p:
            raise p.refuse(f"{p.item.id} takes effect on the same day as {earlier.item.id} in",
                           earlier)


def _check_specialty_names(published: list[_Published]) -> None:
    """A name or alias that led to two specialties would mix their versions."""
    by_name: dict[str, _Published] = {}
    for p in published:
        for name in (p.item.specialty, *p.item.aliases):
            earlier = by_name.setdefault(normalise_name(name), p)
            if earlier.item.specialty != p.item.specialty:
                raise p.refuse(f"the name {name!r} already means {earlier.item.specialty!r} in",
                               earlier)


def _share_aliases(standards: list[TrainingStandard]) -> list[TrainingStandard]:
    """A programme's new version need not repeat the aliases: 内科 must find it too.

    Aliases only find a standard; they are no part of what it requires of a trainee.
    """
    names: dict[str, dict[str, None]] = {}
    for s in standards:
        names.setdefault(normalise_name(s.specialty), {}).update(dict.fromkeys(s.aliases))
    return [replace(s, aliases=tuple(names[normalise_name(s.specialty)])) for s in standards]


# --- reading one file -------------------------------------------------------------------


def _standard_file(f: _File, root: yaml.Node) -> Iterator[_Published]:
    top, _ = _fields(f, root, "", STANDARD_FILE)
    for i, (fields, node) in enumerate(top["versions"]):
        standard = TrainingStandard(specialty=top["specialty"], aliases=top["aliases"], **fields)
        yield _Published(standard, f.name, node.start_mark.line + 1, f"versions[{i}]")


def _policy_file(f: _File, root: yaml.Node) -> Iterator[_Published]:
    top, _ = _fields(f, root, "", POLICY_FILE)
    for i, (fields, node) in enumerate(top["versions"]):
        policy = Policy(jurisdiction=top["jurisdiction"], **fields)
        yield _Published(policy, f.name, node.start_mark.line + 1, f"versions[{i}]")


def _standard_version(f: _File, node: yaml.Node, where: str) -> tuple[dict, yaml.Node]:
    fields, nodes = _fields(f, node, where, STANDARD_VERSION)
    defaults = fields.pop("default_assessments")
    departments, seen = [], {}
    dept_nodes = nodes["departments"].value
    for i, (dept, dept_node) in enumerate(zip(fields["departments"], dept_nodes, strict=True)):
        if dept["assessments"] is None:
            dept["assessments"] = defaults
        line = dept_node.start_mark.line + 1
        for name in (dept["name"], *dept["aliases"]):
            # Entries are filed by department name; one name must find one department.
            if (first := seen.setdefault(normalise_name(name), line)) != line:
                raise f.error(dept_node, f"{where}.departments[{i}]",
                              f"department name {name!r} is already used at line {first}")
        departments.append(DepartmentRequirement(**dept))
    fields["departments"] = tuple(departments)
    required = sum(d.months for d in departments if d.required)
    total, elective = fields["total_months"], fields["elective_months"]
    if required + elective > total + _SLACK:
        raise f.error(nodes["total_months"], f"{where}.total_months",
                      f"required departments' {required:g} months + elective_months "
                      f"{elective:g} exceed total_months {total:g}")
    if elective > 0 and all(d.required for d in departments):
        raise f.error(nodes["elective_months"], f"{where}.elective_months",
                      "no department is marked 'required: false' to spend elective months in")
    if not fields["illustrative"] and not fields["source"]:
        raise f.error(node, f"{where}.source", "a standard that is not illustrative must cite it")
    return fields, node


def _policy_version(f: _File, node: yaml.Node, where: str) -> tuple[dict, yaml.Node]:
    fields, _ = _fields(f, node, where, POLICY_VERSION)
    return fields, node


def _fields(f: _File, node: yaml.Node, where: str, spec: dict[str, tuple[Convert, Any]]
            ) -> tuple[dict[str, Any], dict[str, yaml.Node]]:
    """Values of a mapping's fields by the spec; nodes say where each was (or should be)."""
    pairs = _pairs(f, node, where)
    for key, (key_node, _) in pairs.items():
        if key not in spec:
            raise f.error(key_node, _join(where, key),
                          f"unknown field; expected one of: {', '.join(spec)}")
    values, nodes = {}, {}
    for key, (convert, default) in spec.items():
        if key in pairs:
            nodes[key] = pairs[key][1]
            values[key] = convert(f, nodes[key], _join(where, key))
        elif default is _REQUIRED:
            raise f.error(node, _join(where, key), "missing required field")
        else:
            values[key], nodes[key] = default, node
    return values, nodes


def _pairs(f: _File, node: yaml.Node, where: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        raise f.error(node, where or "(file)", f"must be a mapping, got {_shape(f, node)}")
    pairs: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key_node, value_node in node.value:
        key = _scalar(f, key_node, where)
        if not isinstance(key, str):
            raise f.error(key_node, _join(where, str(key)), "field names must be text")
        if key in pairs:
            # yaml keeps the last of two equal keys silently; a copy-paste slip would vanish.
            line = pairs[key][0].start_mark.line + 1
            raise f.error(key_node, _join(where, key), f"repeats the field at line {line}")
        pairs[key] = (key_node, value_node)
    return pairs


# --- converting values ------------------------------------------------------------------


def _scalar(f: _File, node: yaml.Node, where: str) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise f.error(node, where, f"must be a single value, got {_shape(f, node)}")
    try:
        return f.constructor.construct_object(node)
    except (ValueError, yaml.YAMLError) as error:  # e.g. 2014-13-45 looks like a date
        raise f.error(node, where, f"is not a valid value: {error}") from None


def _shape(f: _File, node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    return "a list" if isinstance(node, yaml.SequenceNode) else repr(_scalar(f, node, ""))


def _typed(expected: str, accept: Callable[[Any], bool], cast: Callable = lambda v: v) -> Convert:
    def convert(f: _File, node: yaml.Node, where: str) -> Any:
        value = _scalar(f, node, where)
        if not accept(value):
            # Quote what was written: `yes` reported as True would puzzle the writer.
            raise f.error(node, where, f"must be {expected}, got {node.value!r}")
        return cast(value)

    return convert


# type() rather than isinstance(): YAML's true is an int to isinstance, and a datetime a date.
_text = _typed("text", lambda v: type(v) is str and v.strip() != "")
_flag = _typed("true or false", lambda v: type(v) is bool)
_day = _typed("a date like 2014-12-01", lambda v: type(v) is date)
_count = _typed("a whole number of at least 0", lambda v: type(v) is int and v >= 0)
# `version: 2014` is read as a number; accept it as the name it was meant to be.
_version = _typed('a version name like "2014"',
                  lambda v: type(v) in (str, int) and str(v).strip() != "", str)
# Publication kinds are compared exactly with what is recorded, so spell them one way.
_kind_name = _typed("an upper-case name like REVIEW",
                    lambda v: type(v) is str and re.fullmatch(r"[A-Z][A-Z0-9_]*", v) is not None)
_any_number = _typed("a number", lambda v: type(v) in (int, float) and not math.isnan(v), float)


def _number(low: float = 0, high: float = math.inf) -> Convert:
    def convert(f: _File, node: yaml.Node, where: str) -> float:
        value = _any_number(f, node, where)
        if not low <= value <= high:
            bounds = f"at least {low:g}" if high == math.inf else f"between {low:g} and {high:g}"
            raise f.error(node, where, f"must be {bounds}, got {value:g}")
        return value

    return convert


def _one_of(what: str, allowed: tuple[str, ...] | type[StrEnum]) -> Convert:
    names = tuple(allowed) if isinstance(allowed, tuple) else tuple(k.value for k in allowed)

    def convert(f: _File, node: yaml.Node, where: str) -> str:
        value = _scalar(f, node, where)
        if value not in names:
            raise f.error(node, where, f"unknown {what} {value!r}; allowed: {', '.join(names)}")
        return value

    return convert


def _list_of(item: Convert, result: Callable[[list], Any] = tuple) -> Convert:
    def convert(f: _File, node: yaml.Node, where: str) -> Any:
        if not isinstance(node, yaml.SequenceNode):
            raise f.error(node, where, f"must be a list, got {_shape(f, node)}")
        return result([item(f, n, f"{where}[{i}]") for i, n in enumerate(node.value)])

    return convert


def _mapping_of(key: Convert, value: Convert) -> Convert:
    def convert(f: _File, node: yaml.Node, where: str) -> dict[str, Any]:
        pairs = _pairs(f, node, where).items()
        return {key(f, k, _join(where, n)): value(f, v, _join(where, n)) for n, (k, v) in pairs}

    return convert


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _department(f: _File, node: yaml.Node, where: str) -> dict[str, Any]:
    return _fields(f, node, where, DEPARTMENT)[0]


_assessments = _list_of(_one_of("assessment kind", AssessmentKind))

# field -> (converter, default or _REQUIRED). A field that is not listed is a typo.
DEPARTMENT: dict[str, tuple[Convert, Any]] = {
    "name": (_text, _REQUIRED),
    "aliases": (_list_of(_text), ()),
    "months": (_number(), _REQUIRED),
    "required": (_flag, True),
    "min_counts": (_mapping_of(_one_of("entry kind", EntryKind), _count), {}),
    "assessments": (_assessments, None),  # None: the standard's default_assessments
}
STANDARD_VERSION: dict[str, tuple[Convert, Any]] = {
    "version": (_version, _REQUIRED),
    "effective_from": (_day, _REQUIRED),
    "degree_category": (_one_of("degree category", DegreeCategory), _REQUIRED),
    "total_months": (_number(), _REQUIRED),
    "elective_months": (_number(), 0.0),
    "illustrative": (_flag, True),
    "source": (_text, ""),
    "default_assessments": (_assessments, ()),
    "departments": (_list_of(_department, list), _REQUIRED),
}
STANDARD_FILE: dict[str, tuple[Convert, Any]] = {
    "specialty": (_text, _REQUIRED),
    "aliases": (_list_of(_text), ()),
    "versions": (_list_of(_standard_version), _REQUIRED),
}
# Settings on which the seeds disagree must be stated; national rules (R4, R7) may default.
POLICY_VERSION: dict[str, tuple[Convert, Any]] = {
    "version": (_version, _REQUIRED),
    "effective_from": (_day, _REQUIRED),
    "title": (_text, ""),
    "sources": (_list_of(_text), ()),
    "bachelor_majors": (
        _mapping_of(_one_of("degree category", DegreeCategory), _list_of(_text)), _REQUIRED),
    "requires_full_time_bachelor": (_flag, True),
    "requires_bachelor_of_medicine": (_flag, True),
    "certificate_holders_may_enroll": (_flag, _REQUIRED),
    "prior_training_credit": (_one_of("prior training credit", PRIOR_CREDIT_LEVELS), _REQUIRED),
    "stage_one_months": (_number(), 18.0),
    "resident_duty_months": (_number(), 6.0),
    "licence_exam_after_months": (_number(), 12.0),
    "completion_method": (_one_of("completion method", COMPLETION_METHODS), _REQUIRED),
    "completion_threshold_percent": (_number(0, 100), _REQUIRED),
    "process_assessments": (_assessments, _REQUIRED),
    "degree_publication_kinds": (_list_of(_kind_name, frozenset), _REQUIRED),
}
POLICY_FILE: dict[str, tuple[Convert, Any]] = {
    "jurisdiction": (_text, _REQUIRED),
    "versions": (_list_of(_policy_version), _REQUIRED),
}
