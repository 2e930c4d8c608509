"""What a command sent with an idempotency key carries into the application."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.errors import InvalidCommand

MAX_KEY_LENGTH = 255
NAMESPACE = uuid5(NAMESPACE_URL, "https://dualtrack.invalid/idempotency")


@dataclass(frozen=True)
class Idempotency:
    """The client's key, the part of its request it names (a mutation field's response
    name; a request may carry several), and a digest of that part."""

    key: str
    request_digest: str
    part: str = ""

    def __post_init__(self) -> None:
        check_key(self.key)

    def receipt_id(self, actor: str) -> UUID:
        """Keys are the caller's own: two callers may choose the same key."""
        return uuid5(NAMESPACE, f"{actor}\x1f{self.key}\x1f{self.part}")


def check_key(key: str) -> None:
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise InvalidCommand(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters, got {len(key)}"
        )
    if not key.isascii() or not key.isprintable():
        raise InvalidCommand("Idempotency-Key must be printable ASCII (a UUID is a good key)")
