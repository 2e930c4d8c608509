"""Who is calling: the principal a verified token names, and the two refusals of access.

A principal holds one or more roles (an identity provider may grant a person several,
say base_admin and registry), the subject it acts as (recorded as the actor of what it
writes), and the base or university its roles are bound to.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.errors import DomainError

# A registry sees the personal fields of events (name, national ID) only with this scope.
PERSONAL_DATA_SCOPE = "personal_data"


class Role(StrEnum):
    TRAINEE = "trainee"
    TUTOR = "tutor"
    BASE_ADMIN = "base_admin"
    SCHOOL_ADMIN = "school_admin"
    AUDITOR = "auditor"
    REGISTRY = "registry"


TOKEN_ROLES = tuple(role.value for role in Role)


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class Forbidden(DomainError):
    code = "FORBIDDEN"


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[Role] = frozenset()
    base_id: str | None = None
    university: str | None = None
    scopes: frozenset[str] = frozenset()
    # In-process callers that already hold the database's credentials (the command line,
    # imports, tests) act as the system. No token can claim it.
    system: bool = False

    @classmethod
    def of_system(cls, actor: str) -> Principal:
        return cls(subject=actor, system=True)

    @property
    def actor(self) -> str:
        """The name recorded on every event this principal writes."""
        return self.subject

    def has(self, role: Role) -> bool:
        return self.system or role in self.roles

    def describe(self) -> str:
        if self.system:
            return f"system ({self.subject})"
        roles = ", ".join(sorted(role.value for role in self.roles)) or "no role"
        return f"{self.subject} ({roles})"


def system(actor: str) -> Principal:
    return Principal.of_system(actor)

