"""The write state of recently projected trainees, kept in step with the log, so that a
batch's summaries need not read every row of each trainee it touched again.

A summary is computed from a trainee's facts (domain.facts.TrainingFacts). Gathered from
the read-model rows, they cost a query per table for the batch; here the projector folds
each batch's events into the trainee aggregate it keeps for that trainee (the very
`apply` methods commands are decided on), and asks it for its facts. The two give the
same facts (the property tests hold the read models' verdicts equal to the ones replayed
from the events), so the read models do not depend on which path a batch took.

A shadow is used only when it is exactly one event behind the batch's first event of its
trainee; otherwise the trainee is loaded from the store at its version (few at a time),
or its facts are gathered from rows. Shadows are advanced before the batch commits, so a
batch that fails must `forget` what it touched.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import project_aggregate

from domain import events as e
from domain.facts import TrainingFacts
from domain.trainee import Trainee

# Loads a trainee's aggregate from the store at a version (None: not found).
Load = Callable[[UUID, int], Any]


class ShadowTrainees:
    def __init__(self, load: Load, maxsize: int, max_loads_per_batch: int = 16):
        self._load = load
        self.maxsize = maxsize
        self.max_loads_per_batch = max_loads_per_batch
        self._items: OrderedDict[str, Trainee] = OrderedDict()

    def advance(self, events: Sequence[Any]) -> dict[str, TrainingFacts]:
        """Folds a batch's events (in log order) into the shadows; returns the facts of
        every trainee whose shadow now stands at its last event of the batch."""
        if self.maxsize <= 0:
            return {}
        by_trainee: dict[str, list[Any]] = {}
        for event in events:
            if isinstance(event, e.TraineeEvent):
                by_trainee.setdefault(str(event.originator_id), []).append(event)
        facts: dict[str, TrainingFacts] = {}
        loads = 0
        for trainee_id, own in by_trainee.items():
            shadow = self._items.pop(trainee_id, None)
            first = own[0].originator_version
            if shadow is not None and shadow.version != first - 1:
                shadow = None  # another process projected events of it meanwhile
            if shadow is None and first == 1:
                shadow = _fold(None, own)
            elif shadow is None and loads < self.max_loads_per_batch:
                loads += 1
                shadow = self._load(UUID(trainee_id), own[-1].originator_version)
            elif shadow is not None:
                shadow = _fold(shadow, own)
            if isinstance(shadow, Trainee) and shadow.version == own[-1].originator_version:
                facts[trainee_id] = shadow.facts()
                self._keep(trainee_id, shadow)
        return facts

    def forget(self, trainee_ids: Iterable[str]) -> None:
        for trainee_id in trainee_ids:
            self._items.pop(trainee_id, None)

    def clear(self) -> None:
        self._items.clear()

    def _keep(self, trainee_id: str, shadow: Trainee) -> None:
        self._items[trainee_id] = shadow
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)


def _fold(shadow: Trainee | None, events: list[Any]) -> Trainee | None:
    folded = project_aggregate(shadow, events)
    return folded if isinstance(folded, Trainee) else None
