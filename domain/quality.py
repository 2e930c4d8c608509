"""R14: quality figures per training base, specialty and year, and the enrollment-cut
warnings of seed 003 (task 12):

- a university whose licence-exam pass rate is under 50% three years running;
- a specialty base whose completion-exam theory pass rate ranks in the bottom 5%
  nationally two years running. Only the bases in this system can be ranked here, so
  the rank is taken among them, within the specialty (专业基地 rank against their peers).

A candidate is a trainee who sat the exam in the year; they pass if any sitting that
year was passed. Rates are None where nobody sat.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

LICENCE_PASS_RATE_FLOOR = 0.5
LICENCE_YEARS_RUNNING = 3
THEORY_BOTTOM_SHARE = 0.05
THEORY_YEARS_RUNNING = 2


@dataclass(frozen=True)
class Sitting:
    trainee_id: str
    base_id: str
    specialty: str
    university: str
    year: int
    passed: bool
    # The completion exam's theory part, where it was recorded.
    theory_passed: bool | None = None


@dataclass
class Tally:
    candidates: set[str] = field(default_factory=set)
    passed: set[str] = field(default_factory=set)

    def add(self, trainee_id: str, passed: bool) -> None:
        self.candidates.add(trainee_id)
        if passed:
            self.passed.add(trainee_id)

    @property
    def rate(self) -> float | None:
        return len(self.passed) / len(self.candidates) if self.candidates else None


@dataclass
class BaseFigure:
    base_id: str
    specialty: str
    year: int
    completion: Tally = field(default_factory=Tally)
    theory: Tally = field(default_factory=Tally)
    licence: Tally = field(default_factory=Tally)
    warnings: list[str] = field(default_factory=list)


@dataclass
class UniversityFigure:
    university: str
    year: int
    licence: Tally = field(default_factory=Tally)
    warnings: list[str] = field(default_factory=list)


def base_figures(
    completion: Iterable[Sitting], licence: Iterable[Sitting]
) -> list[BaseFigure]:
    figures: dict[tuple[str, str, int], BaseFigure] = {}

    def figure(s: Sitting) -> BaseFigure:
        key = (s.base_id, s.specialty, s.year)
        return figures.setdefault(key, BaseFigure(*key))

    for sitting in completion:
        figure(sitting).completion.add(sitting.trainee_id, sitting.passed)
        if sitting.theory_passed is not None:
            figure(sitting).theory.add(sitting.trainee_id, sitting.theory_passed)
    for sitting in licence:
        figure(sitting).licence.add(sitting.trainee_id, sitting.passed)
    _warn_bottom_theory(list(figures.values()))
    return sorted(figures.values(), key=lambda f: (f.base_id, f.specialty, f.year))


def university_figures(licence: Iterable[Sitting]) -> list[UniversityFigure]:
    figures: dict[tuple[str, int], UniversityFigure] = {}
    for s in licence:
        key = (s.university, s.year)
        figures.setdefault(key, UniversityFigure(*key)).licence.add(s.trainee_id, s.passed)
    for f in figures.values():
        years = [
            figures.get((f.university, f.year - back)) for back in range(LICENCE_YEARS_RUNNING)
        ]
        rates = [None if y is None else y.licence.rate for y in years]
        if all(rate is not None and rate < LICENCE_PASS_RATE_FLOOR for rate in rates):
            f.warnings.append(
                f"R14: licence-exam pass rate under {LICENCE_PASS_RATE_FLOOR:.0%} in "
                f"{f.year - LICENCE_YEARS_RUNNING + 1}-{f.year} "
                f"({', '.join(f'{rate:.0%}' for rate in reversed(rates) if rate is not None)}): "
                "enrollment cut (seed 003, task 12)"
            )
    return sorted(figures.values(), key=lambda f: (f.university, f.year))


def in_bottom_share(rate: float, peers: list[float]) -> bool:
    """Ranked last-first among `peers` (which include `rate`), inside the bottom share.

    The share's size is rounded up, so among fewer than 20 peers it is the lowest rate
    (ties included); a base without peers is not ranked.
    """
    if len(peers) < 2:
        return False
    worse = sum(1 for other in peers if other < rate)
    return worse < math.ceil(THEORY_BOTTOM_SHARE * len(peers))


def _warn_bottom_theory(figures: list[BaseFigure]) -> None:
    peers: dict[tuple[str, int], list[float]] = defaultdict(list)
    for f in figures:
        if f.theory.rate is not None:
            peers[(f.specialty, f.year)].append(f.theory.rate)

    def bottom(f: BaseFigure | None) -> bool:
        rate = None if f is None else f.theory.rate
        return rate is not None and in_bottom_share(rate, peers[(f.specialty, f.year)])  # type: ignore[union-attr]

    by_key = {(f.base_id, f.specialty, f.year): f for f in figures}
    for f in figures:
        years = [
            by_key.get((f.base_id, f.specialty, f.year - back))
            for back in range(THEORY_YEARS_RUNNING)
        ]
        if all(bottom(y) for y in years):
            f.warnings.append(
                f"R14: completion-exam theory pass rate in the bottom "
                f"{THEORY_BOTTOM_SHARE:.0%} of {f.specialty} bases in "
                f"{f.year - THEORY_YEARS_RUNNING + 1}-{f.year}: enrollment cut (seed 003, task 12)"
            )
