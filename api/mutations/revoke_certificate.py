"""Revokes a certificate recorded here; the record keeps the grant and the revocation."""

from __future__ import annotations

from datetime import date

import strawberry

from api.errors import parse_id
from api.mutations._command import run_command
from api.types import CertificateKind, CommandResult, Info
from domain import commands as c


async def revoke_certificate(
    info: Info, trainee_id: strawberry.ID, kind: CertificateKind, revoked_on: date, reason: str
) -> CommandResult:
    return await run_command(
        info,
        lambda: c.RevokeCertificate(
            trainee_id=parse_id(trainee_id, "traineeId"),
            kind=kind.value,
            revoked_on=revoked_on,
            reason=reason,
        ),
    )
