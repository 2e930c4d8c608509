"""Webhook changes under an Idempotency-Key: a retry answers as the first request did
and changes nothing more, across the webhook tables."""

from __future__ import annotations

from service.bootstrap import Services
from tests.api.conftest import GraphQL
from tests.webhooks.conftest import endpoint_rows
from tests.webhooks.test_registration import PAUSE, REGISTER, REGISTRY, RESUME

URL = "http://127.0.0.1:9/hook"


def test_a_retried_registration_returns_the_same_endpoint_and_secret(
    gql: GraphQL, services: Services
) -> None:
    keyed = gql.with_headers(**{"Idempotency-Key": "register-once"})
    first = keyed.ok(REGISTER, as_=REGISTRY, url=URL)["registerWebhook"]
    again = keyed.ok(REGISTER, as_=REGISTRY, url=URL)["registerWebhook"]
    assert again == first
    assert len(endpoint_rows(services)) == 1

    other = keyed.error(REGISTER, as_=REGISTRY, url=URL + "/other")
    assert other["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(endpoint_rows(services)) == 1


def test_a_retried_pause_does_not_undo_a_later_resume(gql: GraphQL, services: Services) -> None:
    endpoint = gql.ok(REGISTER, as_=REGISTRY, url=URL)["registerWebhook"]["endpoint"]["id"]
    pausing = gql.with_headers(**{"Idempotency-Key": "pause-1"})
    assert pausing.ok(PAUSE, as_=REGISTRY, id=endpoint)["pauseWebhook"]["state"] == "PAUSED"
    gql.ok(RESUME, as_=REGISTRY, id=endpoint)
    # The tablet's retry of its pause, after someone resumed: the pause was done already.
    assert pausing.ok(PAUSE, as_=REGISTRY, id=endpoint)["pauseWebhook"]["state"] == "ACTIVE"
