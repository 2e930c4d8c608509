"""Who tests call the API as: principals with the roles of service.principals, and the
bearer tokens the test settings verify (minted by service.tokens, as `dualtrack token`)."""

from __future__ import annotations

from dataclasses import dataclass

from service.principals import PERSONAL_DATA_SCOPE
from service.settings import Settings
from service.tokens import mint

BASE = "base-1"
UNIVERSITY = "Peking University"


@dataclass(frozen=True)
class Caller:
    subject: str
    roles: tuple[str, ...]
    base_id: str | None = None
    university: str | None = None
    scopes: tuple[str, ...] = ()

    def token(self, settings: Settings) -> str:
        return mint(
            settings, roles=self.roles, subject=self.subject, base_id=self.base_id,
            university=self.university, scopes=self.scopes,
        )

    def authorization(self, settings: Settings) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(settings)}"}


# The programme's staff in tests that are not about access: the base's and the
# university's administrator, who may also read everything.
STAFF = Caller("staff-1", ("base_admin", "school_admin", "auditor"), BASE, UNIVERSITY)
AUDITOR = Caller("auditor-1", ("auditor",))


def trainee(trainee_id: str) -> Caller:
    return Caller(str(trainee_id), ("trainee",))


def tutor(name: str) -> Caller:
    return Caller(name, ("tutor",))


def base_admin(base: str = BASE, name: str = "base-admin-1") -> Caller:
    return Caller(name, ("base_admin",), base_id=base)


def school_admin(university: str = UNIVERSITY, name: str = "school-admin-1") -> Caller:
    return Caller(name, ("school_admin",), university=university)


def registry(base: str = BASE, name: str = "registry-1", personal: bool = False) -> Caller:
    scopes = (PERSONAL_DATA_SCOPE,) if personal else ()
    return Caller(name, ("registry",), base_id=base, scopes=scopes)
