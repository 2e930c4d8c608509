"""R14 figures and warnings (domain/quality.py), without a database."""

from __future__ import annotations

from domain.quality import Sitting, base_figures, in_bottom_share, university_figures


def sitting(trainee: str, base: str, year: int, passed: bool, theory: bool | None = None,
            university: str = "U") -> Sitting:
    return Sitting(trainee, base, "surgery", university, year, passed, theory)


def test_the_bottom_share_is_rounded_up_and_needs_peers() -> None:
    assert in_bottom_share(0.5, [0.5, 0.7, 0.9])
    assert not in_bottom_share(0.7, [0.5, 0.7, 0.9])
    assert in_bottom_share(0.5, [0.5, 0.5, 0.9])  # ties share the bottom
    assert not in_bottom_share(0.1, [0.1])  # a lone base is not ranked
    forty = [i / 40 for i in range(40)]
    assert in_bottom_share(forty[1], forty) and not in_bottom_share(forty[2], forty)


def test_a_candidate_passes_once_a_year_and_the_worst_base_two_years_running_is_warned() -> None:
    completion = [
        sitting("a1", "A", 2025, False, theory=False), sitting("a1", "A", 2025, True, theory=True),
        sitting("a2", "A", 2025, False, theory=False),
        sitting("b1", "B", 2025, True, theory=True),
        sitting("a3", "A", 2026, False, theory=False), sitting("b2", "B", 2026, True, theory=True),
    ]
    figures = {(f.base_id, f.year): f for f in base_figures(completion, [])}
    a_2025 = figures[("A", 2025)]
    assert (len(a_2025.completion.candidates), a_2025.completion.rate) == (2, 0.5)
    assert a_2025.warnings == []  # bottom in 2025 only
    assert figures[("A", 2026)].warnings == [
        "R14: completion-exam theory pass rate in the bottom 5% of surgery bases in 2025-2026: "
        "enrollment cut (seed 003, task 12)"]
    assert figures[("B", 2026)].warnings == []


def test_a_university_under_half_three_years_running_is_warned() -> None:
    licence = [sitting(f"t{year}{n}", "A", year, n == 0) for year in (2024, 2025, 2026)
               for n in range(3)]
    licence.append(sitting("x", "A", 2026, True, university="Other"))
    by_year = {(f.university, f.year): f for f in university_figures(licence)}
    assert by_year[("U", 2025)].warnings == []
    assert by_year[("U", 2026)].warnings == [
        "R14: licence-exam pass rate under 50% in 2024-2026 (33%, 33%, 33%): enrollment cut "
        "(seed 003, task 12)"]
    assert by_year[("Other", 2026)].licence.rate == 1.0
