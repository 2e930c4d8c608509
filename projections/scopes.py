"""What the read models say about whose each trainee is, for access decisions on reads:
the base, the university, and who tutors the trainee where (assignments and rotations)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from projections import tables as t
from service.access import TraineeScope, Visibility


def trainee_scopes(engine: sa.Engine, ids: Sequence[str]) -> list[TraineeScope | None]:
    trainees, assignments, rotations = t.trainees, t.tutor_assignments, t.rotations
    tutors: dict[str, dict[str, set[str | None]]] = defaultdict(lambda: defaultdict(set))
    with engine.connect() as connection:
        owners = {
            row.id: row
            for row in connection.execute(
                sa.select(trainees.c.id, trainees.c.base_id, trainees.c.university)
                .where(trainees.c.id.in_(ids))
            )
        }
        tutored = sa.union_all(
            sa.select(assignments.c.trainee_id, assignments.c.tutor_id, assignments.c.department)
            .where(assignments.c.trainee_id.in_(ids)),
            sa.select(rotations.c.trainee_id, rotations.c.tutor_id, rotations.c.department)
            .where(rotations.c.trainee_id.in_(ids), rotations.c.tutor_id.is_not(None)),
        )
        for trainee_id, tutor_id, department in connection.execute(tutored):
            tutors[trainee_id][tutor_id].add(department)
    return [
        None if (owner := owners.get(i)) is None else TraineeScope(
            trainee_id=i,
            base_id=owner.base_id,
            university=owner.university,
            tutors={tutor: frozenset(depts) for tutor, depts in tutors[i].items()},
        )
        for i in ids
    ]


def visible_to(visibility: Visibility) -> Any:
    """The condition on rm_trainees that keeps the rows a principal may list."""
    c = t.trainees.c
    if visibility.everyone:
        return sa.true()
    alternatives: list[Any] = []
    if visibility.trainee_id is not None:
        alternatives.append(c.id == visibility.trainee_id)
    if visibility.base_id is not None:
        alternatives.append(c.base_id == visibility.base_id)
    if visibility.university is not None:
        alternatives.append(c.university == visibility.university)
    if visibility.tutor_id is not None:
        for table in (t.tutor_assignments, t.rotations):
            alternatives.append(c.id.in_(
                sa.select(table.c.trainee_id).where(table.c.tutor_id == visibility.tutor_id)
            ))
    return sa.or_(*alternatives) if alternatives else sa.false()
