"""Jurisdiction policies: where provinces' regulations differ, the difference is a setting.

Seed 000 (Chongqing) and seed 004 (Jilin) disagree on, for instance, whether a holder
of a residency certificate may enroll as a professional master's student (R2 vs R6).
Each such choice is a field here, filled from a named, versioned policy file
(service/data/policies/); the rules in domain/rules.py read the field, never the name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

EVERY_REQUIREMENT = "every_requirement"
DEPARTMENT_AVERAGE = "department_average"
COMPLETION_METHODS = (EVERY_REQUIREMENT, DEPARTMENT_AVERAGE)

ANY_LEVEL = "any_level"
LICENSED_LEVEL_ONLY = "licensed_level_only"
PRIOR_CREDIT_LEVELS = (ANY_LEVEL, LICENSED_LEVEL_ONLY)


@dataclass(frozen=True)
class Policy:
    jurisdiction: str
    version: str
    effective_from: date
    title: str = ""
    sources: tuple[str, ...] = ()
    # R1: degree categories a master's student may enroll in, and for each the bachelor
    # majors that qualify (matched like names, see domain.standards.normalise_name).
    bachelor_majors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    requires_full_time_bachelor: bool = True
    requires_bachelor_of_medicine: bool = True
    # R2 / R6: may a residency-certificate holder enroll as a professional master's
    # student? If so, R6 sends them straight to stage 2.
    certificate_holders_may_enroll: bool = False
    # R3 / R5: whose prior training time is credited (the "fill-in" method).
    prior_training_credit: str = ANY_LEVEL
    # R4
    stage_one_months: float = 18.0
    resident_duty_months: float = 6.0
    # R7
    licence_exam_after_months: float = 12.0
    # R8 / R9: how the handbook's required counts are judged complete.
    completion_method: str = EVERY_REQUIREMENT
    completion_threshold_percent: float = 100.0
    # R9: process assessments (beyond each department's) that must have been passed.
    process_assessments: tuple[str, ...] = ()
    # R10: publication kinds that satisfy the degree's publication condition; empty
    # means the policy sets no such condition.
    degree_publication_kinds: frozenset[str] = frozenset()

    @property
    def id(self) -> str:
        return f"{self.jurisdiction}@{self.version}"
