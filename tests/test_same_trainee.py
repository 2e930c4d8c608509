"""Many clients writing to one trainee at once, through two real servers over one database
(so commands race across writers, not only within one): every command is applied or
refused with CONFLICT after its bounded retries, and a count shows none was lost."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter

import httpx

from api.app import create_app
from domain.events import RotationEntryRecorded
from service import bootstrap
from service.clock import FixedClock
from service.settings import Settings
from tests.callers import trainee as own
from tests.servers import serving
from tests.storage.test_group_commit import with_rotation

CLIENTS = 8
COMMANDS_EACH = 12
ENTRY = """
mutation($t: ID!, $r: ID!, $text: String!) {
  recordRotationEntry(traineeId: $t, rotationId: $r, kind: CASE, occurredOn: "2025-02-01",
                      description: $text) { id }
}"""


def test_every_command_on_one_trainee_is_applied_or_refused_with_conflict(
    settings: Settings, clock: FixedClock
) -> None:
    # Few retries, so that racing writers do exhaust them sometimes.
    settings = dataclasses.replace(settings, command_attempts=2)
    first, second = bootstrap.build(settings, clock=clock), bootstrap.build(settings, clock=clock)
    try:
        trainee, rotation = with_rotation(first, "110101199901019999")
        headers = own(str(trainee)).authorization(settings)
        outcomes: dict[str, str] = {}
        lock = threading.Lock()

        with serving(create_app(first)) as one, serving(create_app(second)) as other:
            def client(n: int) -> None:
                with httpx.Client(base_url=(one, other)[n % 2], timeout=30) as http:
                    for k in range(COMMANDS_EACH):
                        text = f"client {n} command {k}"
                        body = http.post("/graphql", headers=headers, json={
                            "query": ENTRY,
                            "variables": {"t": str(trainee), "r": str(rotation), "text": text},
                        }).json()
                        errors = body.get("errors") or [{}]
                        code = "APPLIED" if body.get("data") else errors[0].get(
                            "extensions", {}).get("code", "NONE")
                        with lock:
                            outcomes[text] = code

            threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)

        counted = Counter(outcomes.values())
        assert len(outcomes) == CLIENTS * COMMANDS_EACH, counted
        assert set(counted) <= {"APPLIED", "CONFLICT"}, counted
        assert counted["APPLIED"] > 0
        events = list(first.records.events.get(trainee))
        stored = Counter(e.description for e in events if isinstance(e, RotationEntryRecorded))
        applied = {text for text, code in outcomes.items() if code == "APPLIED"}
        # Applied: stored exactly once. Refused: not stored at all.
        assert stored == Counter(applied)
        assert [e.originator_version for e in events] == list(range(1, len(events) + 1))
        print(f"same trainee: {dict(counted)}")
    finally:
        first.close()
        second.close()
