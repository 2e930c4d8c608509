"""Assessment forms (Mini-CEX, DOPS) as data: which domains are rated and on what scale.

The forms themselves are loaded from data files by the service layer; this module only
knows how to check a filled-in form against one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from domain.errors import InvalidCommand


@dataclass(frozen=True)
class RatingScale:
    minimum: int
    maximum: int
    # The lowest overall score that counts as a pass. The national forms define no
    # pass mark; the shipped forms use the start of their "satisfactory" band.
    pass_from: int

    def check(self, what: str, score: object) -> int:
        if isinstance(score, bool) or not isinstance(score, int):
            raise InvalidCommand(f"{what} must be a whole number, got {score!r}")
        if not self.minimum <= score <= self.maximum:
            raise InvalidCommand(
                f"{what} is {score}, outside the form's scale {self.minimum}-{self.maximum}"
            )
        return score


@dataclass(frozen=True)
class AssessmentForm:
    form_id: str
    name: str
    scale: RatingScale
    rated_items: tuple[str, ...]

    def check(self, ratings: Mapping[str, object] | None, overall: int | None) -> bool:
        """Validates a filled-in form and returns whether it is a pass."""
        if overall is None:
            raise InvalidCommand(f"{self.name}: overall score is required")
        self.scale.check(f"{self.name} overall score", overall)
        if ratings is not None:
            if not isinstance(ratings, Mapping):
                raise InvalidCommand(f"{self.name}: ratings must be an object of item: score")
            unknown = sorted(set(ratings) - set(self.rated_items))
            if unknown:
                raise InvalidCommand(
                    f"{self.name}: unknown rated item(s) {', '.join(unknown)}; "
                    f"the form rates {', '.join(self.rated_items)}"
                )
            for item, score in ratings.items():
                self.scale.check(f"{self.name} rating '{item}'", score)
        return overall >= self.scale.pass_from
