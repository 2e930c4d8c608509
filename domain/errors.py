"""Why a command was refused. The API maps each class to a GraphQL error code."""

from __future__ import annotations


class DomainError(Exception):
    """A command was refused; nothing was written."""

    code = "BAD_USER_INPUT"


class InvalidCommand(DomainError):
    """The command's own input is wrong (a bad date, a score off the scale, ...)."""


class NotFound(DomainError):
    code = "NOT_FOUND"


class Conflict(DomainError):
    """The command contradicts what is already recorded (a second degree, ...)."""

    code = "CONFLICT"


class RulesNotMet(DomainError):
    """A regulation forbids the command; `unmet` lists each reason, led by its rule id."""

    code = "RULES_NOT_MET"

    def __init__(self, action: str, unmet: list[str]):
        self.unmet = list(unmet)
        super().__init__(f"cannot {action}: " + "; ".join(self.unmet))
