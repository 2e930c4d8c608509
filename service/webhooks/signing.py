"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

The secret is `whsec_` followed by the base64 of random bytes; the key is those bytes.
The signature is `v1,` followed by the base64 of HMAC-SHA256(key, "{id}.{timestamp}.{body}"),
where `id` is the webhook-id header (here: the event id, the same on every retry),
`timestamp` the webhook-timestamp header (unix seconds) and `body` the exact bytes sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the specification asks for 24 to 64
SIGNATURE_VERSION = "v1"
TOLERANCE_SECONDS = 5 * 60


class InvalidSignature(Exception):
    """The request was not signed with the secret, or is too old (a replay)."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    return base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)


def sign(secret: str, webhook_id: str, timestamp: int | str, body: bytes) -> str:
    content = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def headers(secret: str, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, webhook_id, timestamp, body),
    }


def verify(
    secret: str,
    request_headers: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance: int = TOLERANCE_SECONDS,
) -> str:
    """What a receiver does: returns the webhook-id, or raises InvalidSignature.

    `request_headers` must look names up without regard to case (as HTTP libraries do).
    """
    webhook_id = request_headers.get("webhook-id")
    timestamp = request_headers.get("webhook-timestamp")
    signatures = request_headers.get("webhook-signature")
    if not webhook_id or not timestamp or not signatures:
        raise InvalidSignature("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        sent = int(timestamp)
    except ValueError:
        raise InvalidSignature(f"webhook-timestamp is not a number: {timestamp!r}") from None
    if abs(now - sent) > tolerance:
        raise InvalidSignature(f"webhook-timestamp {sent} is more than {tolerance}s from now")
    expected = sign(secret, webhook_id, timestamp, body)
    for candidate in signatures.split():
        if hmac.compare_digest(candidate.encode(), expected.encode()):
            return webhook_id
    raise InvalidSignature("no signature matches")
