"""Enrolls a trainee: the first event of their record."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import strawberry

from api.mutations._command import run_command
from api.types import CommandResult, DegreeCategory, Info, Pathway
from domain import commands as c


@strawberry.input
class EnrollTraineeInput:
    name: str
    national_id: str
    pathway: Pathway
    degree_category: DegreeCategory
    bachelor_major: str
    has_bachelor_of_medicine: bool
    holds_residency_certificate: bool
    licensed_at_enrollment: bool
    specialty: str
    base_id: strawberry.ID
    university: str
    cohort: int
    enrolled_on: date
    prior_training_months: float | None = 0.0
    full_time_bachelor: bool = strawberry.field(
        default=True, description="R1: the bachelor's degree came from full-time study."
    )
    jurisdiction: str | None = strawberry.field(
        default=None,
        description="Whose policy binds the trainee; defaults to the deployment's "
        "(DUALTRACK_JURISDICTION).",
    )


async def enroll_trainee(info: Info, input: EnrollTraineeInput) -> CommandResult:
    return await run_command(
        info,
        lambda: c.EnrollTrainee(
            trainee_id=uuid4(),
            name=input.name,
            national_id=input.national_id,
            pathway=input.pathway.value,
            degree_category=input.degree_category.value,
            bachelor_major=input.bachelor_major,
            has_bachelor_of_medicine=input.has_bachelor_of_medicine,
            holds_residency_certificate=input.holds_residency_certificate,
            licensed_at_enrollment=input.licensed_at_enrollment,
            specialty=input.specialty,
            base_id=str(input.base_id),
            university=input.university,
            cohort=input.cohort,
            enrolled_on=input.enrolled_on,
            prior_training_months=input.prior_training_months or 0.0,
            full_time_bachelor=input.full_time_bachelor,
            jurisdiction=input.jurisdiction,
        ),
    )
