"""What must hold after any crash: the log holds every acknowledged command exactly once,
in order, with nothing duplicated or reordered, and the read models equal a clean rebuild.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from domain.events import RotationEntryRecorded
from service.bootstrap import Services
from service.read_model_digest import read_model_digest
from tests.crash.load import Load

PAGE = 1000
CATCH_UP_WITHIN = 30.0


@dataclass(frozen=True)
class Outcome:
    """What a run did, for its report: acknowledged commands per phase, unacknowledged
    ones, and how many of those were committed all the same."""

    acks_per_phase: list[int]
    unacknowledged: int
    unacknowledged_stored: int
    # Why commands were not acknowledged: connection refused or reset, a GraphQL error...
    failures: dict[str, int]
    events: int

    def __str__(self) -> str:
        return (f"acknowledged {sum(self.acks_per_phase)} (per phase {self.acks_per_phase}), "
                f"unacknowledged {self.unacknowledged} (of which stored "
                f"{self.unacknowledged_stored}; {self.failures}), "
                f"{self.events} events in the log")


def assert_log_holds_every_ack_once(services: Services, load: Load) -> Outcome:
    """Decodes the whole log and matches it against what the clients were told."""
    records = services.records
    stored: dict[str, list[int]] = defaultdict(list)  # description -> positions
    versions: dict[str, list[int]] = defaultdict(list)  # stream -> versions in log order
    previous = 0
    events = 0
    while True:
        page = records.recorder.select_notifications(start=previous + 1, limit=PAGE)
        for notification in page:
            assert notification.id > previous, f"position {notification.id} after {previous}"
            previous = notification.id
            events += 1
            versions[str(notification.originator_id)].append(notification.originator_version)
            event = records.mapper.to_domain_event(notification)
            if isinstance(event, RotationEntryRecorded):
                stored[event.description].append(notification.id)
        if len(page) < PAGE:
            break
    for stream, seen in versions.items():
        # No gap, no repeat, and versions committed in the order they were decided.
        assert seen == list(range(1, len(seen) + 1)), f"stream {stream}: versions {seen}"
    twice = {d: p for d, p in stored.items() if len(p) > 1}
    assert not twice, f"{len(twice)} commands stored more than once: {list(twice.items())[:5]}"
    lost = [ack for ack in load.acked if stored.get(ack.description) != [ack.position]]
    assert not lost, (
        f"{len(lost)} acknowledged commands are missing or not at the position acknowledged: "
        f"{[(a.description, a.position, stored.get(a.description)) for a in lost[:5]]}"
    )
    for client in range(load.clients):
        # One client's commands are sequential: each committed after the one before.
        told = [ack.position for ack in load.acked if ack.client == client]
        assert told == sorted(set(told)), f"client {client} was told positions out of order"
    return Outcome(
        acks_per_phase=load.acks_per_phase(),
        unacknowledged=len(load.unacknowledged),
        unacknowledged_stored=sum(u.description in stored for u in load.unacknowledged),
        failures=dict(Counter(u.reason.split(":")[0] for u in load.unacknowledged)),
        events=events,
    )


def wait_until_projected(
    services: Services, alive: Callable[[], None] | None = None
) -> None:
    """Waits (bounded) until the read models reached the end of the log; `alive()` may
    raise to tell why they do not (the worker died)."""
    deadline = time.monotonic() + CATCH_UP_WITHIN
    while services.projector.position() < services.projector.head():
        assert time.monotonic() < deadline, (
            f"the read models stopped at {services.projector.position()} of "
            f"{services.projector.head()}"
        )
        if alive is not None:
            alive()
        time.sleep(0.05)


def assert_read_models_equal_a_rebuild(services: Services) -> None:
    """The live read models (caught up) hold exactly the rows a clean rebuild makes, and
    the integrity ledger the live projection sealed checks out."""
    head = services.projector.head()
    live = read_model_digest(services.engine)
    assert live.position == head, f"the live read models are at {live.position} of {head}"
    report = services.evidence.verify()
    assert report.ok, f"the ledger fails at {report.first_bad_position}: {report.problem}"
    services.projector.rebuild()
    rebuilt = read_model_digest(services.engine)
    assert rebuilt.position == head
    assert live.tables == rebuilt.tables, (
        f"these read models differ from a rebuild: {live.differing(rebuilt)}"
    )
    assert live.tables["rm_rotation_entries"].rows and live.tables["rm_audit_events"].rows
