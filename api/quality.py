"""R14 quality figures over GraphQL: per base, specialty and year, and per university."""

from __future__ import annotations

from functools import partial

import strawberry

from api.types import Info
from domain import quality
from projections import queries
from service import access
from service.principals import Role


@strawberry.type
class QualityFigure:
    base_id: strawberry.ID
    specialty: str
    year: int
    completion_candidates: int
    completion_pass_rate: float | None
    completion_theory_candidates: int
    completion_theory_pass_rate: float | None
    licence_candidates: int
    licence_pass_rate: float | None
    warnings: list[str] = strawberry.field(
        description="Enrollment-cut warnings (R14), each starting with its rule id."
    )

    @classmethod
    def of(cls, f: quality.BaseFigure) -> QualityFigure:
        return cls(
            base_id=strawberry.ID(f.base_id), specialty=f.specialty, year=f.year,
            completion_candidates=len(f.completion.candidates),
            completion_pass_rate=f.completion.rate,
            completion_theory_candidates=len(f.theory.candidates),
            completion_theory_pass_rate=f.theory.rate,
            licence_candidates=len(f.licence.candidates), licence_pass_rate=f.licence.rate,
            warnings=f.warnings,
        )


@strawberry.type
class UniversityFigure:
    university: str
    year: int
    licence_candidates: int
    licence_pass_rate: float | None
    warnings: list[str]

    @classmethod
    def of(cls, f: quality.UniversityFigure) -> UniversityFigure:
        return cls(
            university=f.university, year=f.year, licence_candidates=len(f.licence.candidates),
            licence_pass_rate=f.licence.rate, warnings=f.warnings,
        )


async def quality_figures(
    info: Info,
    base_id: strawberry.ID | None = None,
    specialty: str | None = None,
    year: int | None = None,
) -> list[QualityFigure]:
    base_id = access.confine_to_own(
        info.context.principal, (Role.BASE_ADMIN,), base_id, "quality figures"
    )
    completion, licence = await _sittings(info)
    if specialty is not None:
        specialty = info.context.services.records.regulations.specialty_name(specialty)
    # Ranks compare every base, so the filter applies after the figures are computed.
    return [
        QualityFigure.of(f)
        for f in quality.base_figures(completion, licence)
        if (base_id is None or f.base_id == base_id)
        and (specialty is None or f.specialty == specialty)
        and (year is None or f.year == year)
    ]


async def university_figures(
    info: Info, university: str | None = None, year: int | None = None
) -> list[UniversityFigure]:
    university = access.confine_to_own(
        info.context.principal, (Role.SCHOOL_ADMIN,), university, "university figures"
    )
    _, licence = await _sittings(info)
    return [
        UniversityFigure.of(f)
        for f in quality.university_figures(licence)
        if (university is None or f.university == university) and (year is None or f.year == year)
    ]


async def _sittings(info: Info) -> tuple[list[quality.Sitting], list[quality.Sitting]]:
    return await info.context.run(  # type: ignore[no-any-return]
        partial(queries.exam_sittings, info.context.services.engine)
    )
