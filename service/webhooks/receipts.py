"""Idempotency for webhook changes: a receipt row, written in the change's transaction,
holds what the change did, so that a retry under the same key answers with it and
changes nothing (the trainee commands' receipts are events: domain.receipts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from domain.receipts import IdempotencyKeyReused
from service.idempotency import Idempotency
from service.webhooks import tables as w


def earlier(session: Any, idempotency: Idempotency | None, actor: str) -> dict[str, Any] | None:
    """What the change made under this key did, if one was made."""
    if idempotency is None:
        return None
    r = w.receipts.c
    row = session.execute(
        sa.select(r.request_digest, r.outcome)
        .where(r.receipt_id == str(idempotency.receipt_id(actor)))
    ).first()
    if row is None:
        return None
    if row.request_digest != idempotency.request_digest:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used for a different request; "
            "use a new key for a new change"
        )
    return dict(row.outcome)


def keep(
    session: Any, idempotency: Idempotency | None, actor: str, outcome: dict[str, Any],
    now: datetime,
) -> None:
    """A concurrent retry under the same key fails on the primary key, and its change
    with it; its next retry finds this receipt."""
    if idempotency is None:
        return
    session.execute(w.receipts.insert().values(
        receipt_id=str(idempotency.receipt_id(actor)),
        request_digest=idempotency.request_digest,
        outcome=outcome,
        recorded_at=now,
    ))
