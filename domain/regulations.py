"""The catalogue of standards and policies, and which version binds a trainee.

A trainee is measured against the standard and the policy in force on their enrollment
date; enrollment records both ids, so publishing a new version later never changes an
enrolled trainee's verdict.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from domain.errors import InvalidCommand
from domain.policies import Policy
from domain.standards import TrainingStandard, normalise_name

Versioned = TypeVar("Versioned", TrainingStandard, Policy)


@dataclass(frozen=True)
class Regime:
    """What one trainee is measured against."""

    standard: TrainingStandard
    policy: Policy


class Regulations:
    def __init__(self, standards: Iterable[TrainingStandard], policies: Iterable[Policy]):
        self.standards = {s.id: s for s in standards}
        self.policies = {p.id: p for p in policies}

    def standard_in_force(self, specialty: str, on: date) -> TrainingStandard:
        versions = [s for s in self.standards.values() if s.names_specialty(specialty)]
        if not versions:
            known = sorted({s.specialty for s in self.standards.values()})
            raise InvalidCommand(
                f"specialty {specialty!r} has no training standard; known specialties: "
                f"{', '.join(known)}"
            )
        return _in_force(versions, on, f"the {versions[0].specialty} standard")

    def specialty_name(self, name: str) -> str:
        """The specialty's own name for any of its names; other names are kept as given."""
        known = next((s for s in self.standards.values() if s.names_specialty(name)), None)
        return name if known is None else known.specialty

    def policy_in_force(self, jurisdiction: str, on: date) -> Policy:
        wanted = normalise_name(jurisdiction)
        versions = [p for p in self.policies.values() if normalise_name(p.jurisdiction) == wanted]
        if not versions:
            known = sorted({p.jurisdiction for p in self.policies.values()})
            raise InvalidCommand(
                f"jurisdiction {jurisdiction!r} has no policy; known jurisdictions: "
                f"{', '.join(known)}"
            )
        return _in_force(versions, on, f"the {versions[0].jurisdiction} policy")

    def at_enrollment(self, specialty: str, jurisdiction: str, enrolled_on: date) -> Regime:
        return Regime(
            self.standard_in_force(specialty, enrolled_on),
            self.policy_in_force(jurisdiction, enrolled_on),
        )

    def recorded(
        self,
        standard_id: str | None,
        policy_id: str | None,
        *,
        specialty: str,
        jurisdiction: str,
        enrolled_on: date,
    ) -> Regime:
        """The versions recorded at enrollment. Records from before versions were recorded
        (None) are measured against those in force on their enrollment date."""
        try:
            standard = (
                self.standards[standard_id]
                if standard_id
                else self.standard_in_force(specialty, enrolled_on)
            )
            policy = (
                self.policies[policy_id]
                if policy_id
                else self.policy_in_force(jurisdiction, enrolled_on)
            )
        except KeyError as missing:
            raise LookupError(
                f"{missing.args[0]} is recorded on a trainee but no longer shipped; "
                "published versions must stay in the regulations directory"
            ) from None
        return Regime(standard, policy)


def _in_force(versions: list[Versioned], on: date, what: str) -> Versioned:
    in_force = [v for v in versions if v.effective_from <= on]
    if not in_force:
        first = min(v.effective_from for v in versions)
        raise InvalidCommand(f"{what} has no version in force on {on} (the first is from {first})")
    return max(in_force, key=lambda v: v.effective_from)
