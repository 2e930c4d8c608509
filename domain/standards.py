"""Training standards (住院医师规范化培训内容与标准) as data: one per specialty and version.

A standard says which departments a trainee rotates through, for how many months, how
many signed entries of each kind each department needs, and which assessments must be
passed there. The files live with the service (see service/regulations.py); this module
only knows what a standard is and how to look a department up in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date


def normalise_name(name: str) -> str:
    """Names are matched without regard to case, spacing or hyphens."""
    return " ".join(name.replace("-", " ").replace("_", " ").casefold().split())


@dataclass(frozen=True)
class DepartmentRequirement:
    name: str
    aliases: tuple[str, ...] = ()
    months: float = 0.0
    required: bool = True
    # Entry kind -> how many signed entries of that kind the department needs (R8).
    min_counts: Mapping[str, int] = field(default_factory=dict)
    # Assessment kinds that must be passed in one of the department's rotations (R8/R9).
    assessments: tuple[str, ...] = ()

    def matches(self, department: str) -> bool:
        wanted = normalise_name(department)
        return any(normalise_name(n) == wanted for n in (self.name, *self.aliases))


@dataclass(frozen=True)
class TrainingStandard:
    specialty: str
    version: str
    effective_from: date
    degree_category: str
    total_months: float
    departments: tuple[DepartmentRequirement, ...]
    aliases: tuple[str, ...] = ()
    # Months to be spent, in total, in the departments marked required: false.
    elective_months: float = 0.0
    # True where numbers are not taken from a published standard; shown to every reader.
    illustrative: bool = True
    source: str = ""

    @property
    def id(self) -> str:
        return f"{self.specialty}@{self.version}"

    def department(self, name: str) -> DepartmentRequirement | None:
        return next((d for d in self.departments if d.matches(name)), None)

    def names_specialty(self, name: str) -> bool:
        wanted = normalise_name(name)
        return any(normalise_name(n) == wanted for n in (self.specialty, *self.aliases))
