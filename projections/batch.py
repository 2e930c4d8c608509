"""The unit of work of one projected batch: every row the handlers write, held in memory
and written at the end with a few set-wise statements, in a fixed table order.

Handlers write rows (`insert`, `update`, `replace`); a change to a row inserted in the
same batch is folded into that row, so it reaches the database once. The few things a
handler must read (a trainee's latest fact date, the audit position an entry's recording
took, the corrections already listed on it) are answered from the batch's own writes
first, then from what `look_ahead` fetched for the whole batch with one IN query each.

`finish` writes the rows, then recomputes the summaries (projections.summary) of the
trainees the batch touched, folding each into the UPDATE of its trainee row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from domain.facts import TrainingFacts
from projections import bulk, summary
from projections import tables as t
from projections.bulk import Key, Row

# The order rows are written in (rm_trainees last: the summaries are folded into it).
WRITE_ORDER = (
    t.audit_events,
    t.tutor_assignments,
    t.rotations,
    t.rotation_entries,
    t.assessments,
    t.academic_records,
    t.certificates,
    t.trainees,
)
# Ids per IN list, well below SQLite's limit on bound parameters.
IN_CHUNK = 1000


class Batch:
    def __init__(self, session: Session):
        self.session = session
        self.inserted: dict[sa.Table, dict[Key, Row]] = defaultdict(dict)
        self.updated: dict[sa.Table, dict[Key, Row]] = defaultdict(dict)
        self.deleted: dict[sa.Table, set[Key]] = defaultdict(set)
        # Trainees whose rows the batch changed, in the order first touched.
        self.touched: dict[str, None] = {}
        # Trainee rows as they stood before the batch (None: not enrolled yet).
        self._stored_trainees: dict[str, Row | None] = {}
        # Entry id -> (trainee id, audit position of the event that recorded the entry).
        self._recordings: dict[str, tuple[str, int]] = {}
        self._looked_up_entries: set[str] = set()
        # Audit position -> its corrected_by list as stored before the batch.
        self._stored_corrected_by: dict[int, list[int]] = {}

    # What handlers write.

    def insert(self, table: sa.Table, row: Row) -> None:
        key = bulk.key_of(table, row)
        if key in self.inserted[table]:
            raise ValueError(f"{table.name}: row {key!r} inserted twice in one batch")
        self.inserted[table][key] = row

    def update(self, table: sa.Table, key: Key, values: Row) -> None:
        """Sets columns of the row with this key (nothing, if there is no such row)."""
        row = self.inserted[table].get(key)
        if row is not None:
            row.update(values)
        else:
            self.updated[table].setdefault(key, {}).update(values)

    def replace(self, table: sa.Table, row: Row) -> None:
        """Puts the row in place of any row with its key."""
        key = bulk.key_of(table, row)
        if key not in self.inserted[table]:
            self.deleted[table].add(key)
            self.updated[table].pop(key, None)
        self.inserted[table][key] = row

    def touch(self, trainee_id: str) -> None:
        self.touched[trainee_id] = None

    def recorded_entry(self, entry_id: str, trainee_id: str, position: int) -> None:
        self._recordings[entry_id] = (trainee_id, position)

    # What handlers read.

    def latest_fact_on(self, trainee_id: str) -> Any:
        row = self.inserted[t.trainees].get(trainee_id)
        if row is not None:
            return row.get("latest_fact_on")
        pending = self.updated[t.trainees].get(trainee_id, {})
        if "latest_fact_on" in pending:
            return pending["latest_fact_on"]
        stored = self.stored_trainee(trainee_id)
        return None if stored is None else stored["latest_fact_on"]

    def stored_trainee(self, trainee_id: str) -> Row | None:
        if trainee_id not in self._stored_trainees:
            self._fetch_trainees([trainee_id])
        return self._stored_trainees[trainee_id]

    def recording_position(self, entry_id: str, trainee_id: str) -> int | None:
        """The audit position of the event that recorded the trainee's entry."""
        if entry_id not in self._recordings and entry_id not in self._looked_up_entries:
            self._fetch_recordings([entry_id])
        found = self._recordings.get(entry_id)
        return found[1] if found is not None and found[0] == trainee_id else None

    def corrected_by(self, position: int) -> list[int]:
        row = self.inserted[t.audit_events].get(position)
        if row is not None:
            return list(row["corrected_by"])
        pending = self.updated[t.audit_events].get(position, {})
        if "corrected_by" in pending:
            return list(pending["corrected_by"])
        if position not in self._stored_corrected_by:
            c = t.audit_events.c
            stored = self.session.execute(
                sa.select(c.corrected_by).where(c.position == position)
            ).scalar()
            self._stored_corrected_by[position] = list(stored or [])
        return list(self._stored_corrected_by[position])

    # Reads done once for the whole batch.

    def look_ahead(self, trainee_ids: Iterable[str], corrected_entries: Iterable[str]) -> None:
        """Fetches, with one query each, what the handlers will ask about these trainees
        and the entries these corrections correct."""
        self._fetch_trainees([i for i in dict.fromkeys(trainee_ids)
                              if i not in self._stored_trainees])
        self._fetch_recordings([i for i in dict.fromkeys(corrected_entries)
                                if i not in self._looked_up_entries])

    def _fetch_trainees(self, ids: Sequence[str]) -> None:
        for chunk in chunks(ids, IN_CHUNK):
            self._stored_trainees.update(dict.fromkeys(chunk))
            rows = self.session.execute(sa.select(t.trainees).where(t.trainees.c.id.in_(chunk)))
            for row in rows.mappings():
                self._stored_trainees[row["id"]] = dict(row)

    def _fetch_recordings(self, entry_ids: Sequence[str]) -> None:
        entries, audit = t.rotation_entries.c, t.audit_events.c
        for chunk in chunks(entry_ids, IN_CHUNK):
            self._looked_up_entries.update(chunk)
            rows = self.session.execute(
                sa.select(entries.id, entries.trainee_id, audit.position, audit.corrected_by)
                .join_from(t.rotation_entries, t.audit_events, sa.and_(
                    audit.trainee_id == entries.trainee_id, audit.version == entries.event_version
                ))
                .where(entries.id.in_(chunk))
            )
            for entry_id, trainee_id, position, corrected_by in rows:
                self._recordings.setdefault(entry_id, (trainee_id, position))
                self._stored_corrected_by[position] = list(corrected_by or [])

    # Writing.

    def flush(self) -> None:
        """Writes every held row (no summaries)."""
        for table in WRITE_ORDER:
            self._write(table)

    def finish(
        self, regime_of: summary.RegimeOf, also: Sequence[str] = (),
        facts: Mapping[str, TrainingFacts] | None = None,
    ) -> None:
        """Writes every held row, then the summaries of the trainees touched and of `also`
        (with the `facts` already known of some, see projections.shadows)."""
        for table in WRITE_ORDER:
            if table is not t.trainees:
                self._write(table)
        trainees = self.inserted.pop(t.trainees, {})
        bulk.insert(self.session, t.trainees, trainees.values())
        ids = list(dict.fromkeys([*self.touched, *also]))
        rows = {i: self._stored_trainees.get(i) for i in ids}
        unknown = [i for i, row in rows.items() if row is None]
        for chunk in chunks(unknown, IN_CHUNK):  # enrolled in this batch, or only `also`
            fetched = self.session.execute(sa.select(t.trainees).where(t.trainees.c.id.in_(chunk)))
            rows.update({row["id"]: dict(row) for row in fetched.mappings()})
        known = [row for row in rows.values() if row is not None]
        changes = self.updated.pop(t.trainees, {})
        summaries = [found for chunk in chunks(known, IN_CHUNK)
                     for found in summary.summarise(self.session, chunk, regime_of, facts)]
        for found in summaries:
            changes[found.trainee_id] = {**changes.get(found.trainee_id, {}), **found.values}
            if found.trainee_id in trainees:  # its row went in with what the batch reached
                changes[found.trainee_id].update(_reached(trainees[found.trainee_id]))
        bulk.update(self.session, t.trainees, changes)
        summary.write_certificates(self.session, summaries)

    def _write(self, table: sa.Table) -> None:
        bulk.delete(self.session, table, self.deleted.pop(table, ()))
        bulk.update(self.session, table, self.updated.pop(table, {}))
        bulk.insert(self.session, table, self.inserted.pop(table, {}).values())


def _reached(row: Row) -> Row:
    return {name: row.get(name) for name in ("version", "last_position", "latest_fact_on")}


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
