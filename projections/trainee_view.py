"""One trainee's read-model rows at one version, as a document, and what changed between
two documents. Pure: projections.replay builds the views, the API serves them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from domain import rules

Row = Mapping[str, Any]

# Keyed collections of the document: their members are named by id in change paths.
COLLECTIONS = frozenset({"tutors", "rotations", "entries", "assessments", "certificates"})


# ---------------------------------------------------------------------------------------
# The view


@dataclass(frozen=True)
class TraineeView:
    """Every read-model row of one trainee, as the record stood at `version`."""

    trainee: Row
    tutors: tuple[Row, ...]
    rotations: tuple[Row, ...]
    entries: Mapping[str, tuple[Row, ...]]  # by rotation id, in the live order
    assessments: tuple[Row, ...]
    certificates: tuple[Row, ...]
    audit: tuple[Row, ...]  # the audit trail up to `version`, in log order

    @property
    def id(self) -> str:
        return str(self.trainee["id"])

    @property
    def version(self) -> int:
        return int(self.trainee["version"])

    @property
    def position(self) -> int:
        return int(self.trainee["last_position"])

    def document(self) -> dict[str, Any]:
        """Everything the Trainee type shows, as JSON-ready values under its GraphQL names.

        Rotations, entries, assessments and certificates are keyed by their ids (a
        certificate by its kind, a tutor assignment by the version that recorded it), so
        two documents compare member by member, never by list position.
        """
        row = self.trainee
        unmet = list(row["completion_exam_unmet"])
        return {
            "id": row["id"],
            "name": row["name"],
            "pathway": row["pathway"],
            "degreeCategory": row["degree_category"],
            "licensedAtEnrollment": bool(row["licensed_at_enrollment"]),
            "level": rules.level(bool(row["licensed_at_enrollment"])),
            "specialty": row["specialty"],
            "baseId": row["base_id"],
            "university": row["university"],
            "cohort": row["cohort"],
            "enrolledOn": _json(row["enrolled_on"]),
            "standard": row["standard_id"],
            "policy": row["policy_id"],
            "stage": row["stage"],
            "version": row["version"],
            "completionExam": {"eligible": not unmet, "unmet": unmet},
            "tutors": {
                str(tutor["event_version"]): {
                    "tutorId": tutor["tutor_id"],
                    "role": tutor["role"],
                    "department": tutor["department"],
                    "assignedOn": _json(tutor["assigned_on"]),
                }
                for tutor in self.tutors
            },
            "handbook": {
                "clinicalMonths": float(row["clinical_months"]),
                "creditedPriorMonths": float(row["credited_prior_months"]),
                "residentDutyMonths": float(row["resident_duty_months"]),
                "complete": bool(row["handbook_complete"]),
                "missing": list(row["handbook_missing"]),
                "rotations": {r["id"]: self._rotation(r) for r in self.rotations},
                "assessments": {
                    a["id"]: {
                        "kind": a["kind"],
                        "occurredOn": _json(a["occurred_on"]),
                        "assessorId": a["assessor_id"],
                        "rotationId": a["rotation_id"],
                        "overall": a["overall"],
                        "passed": bool(a["passed"]),
                        "ratings": _json(a["ratings"]),
                    }
                    for a in self.assessments
                },
            },
            "certificates": {
                c["kind"]: {
                    "state": c["state"],
                    "number": c["number"],
                    "grantedOn": _json(c["granted_on"]),
                    "unmet": list(c["unmet"]),
                    "revocationReason": c["revocation_reason"],
                }
                for c in self.certificates
            },
        }

    def _rotation(self, rotation: Row) -> dict[str, Any]:
        return {
            "department": rotation["department"],
            "stage": rotation["stage"],
            "startOn": _json(rotation["start_on"]),
            "endOn": _json(rotation["end_on"]),
            "completed": rotation["completed_on"] is not None,
            "tutorId": rotation["tutor_id"],
            "entries": {
                entry["id"]: {
                    "kind": entry["kind"],
                    "occurredOn": _json(entry["occurred_on"]),
                    "description": entry["description"],
                    "signedBy": entry["signed_by"],
                    "late": bool(entry["late"]),
                    "retracted": bool(entry["retracted"]),
                    "retractionReason": entry["retraction_reason"],
                }
                for entry in self.entries.get(rotation["id"], ())
            },
        }


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value
        return moment.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------
# What changed between two documents


@dataclass(frozen=True)
class FieldChange:
    path: str
    before: Any
    after: Any


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[FieldChange]:
    """Every leaf that differs, with a dotted path such as
    `handbook.rotations[<id>].entries[<id>].signedBy` or `certificates[DEGREE].state`.

    A member of a keyed collection that was added or removed is one change, its whole
    value on one side and null on the other. Lists are values: they compare whole.
    """
    changes: list[FieldChange] = []
    _diff(before or {}, after or {}, "", False, changes)
    return changes


def _diff(
    before: Mapping[str, Any], after: Mapping[str, Any], prefix: str, keyed: bool,
    changes: list[FieldChange],
) -> None:
    names = list(after) + [name for name in before if name not in after]
    for name in names:
        path = f"{prefix}[{name}]" if keyed else (f"{prefix}.{name}" if prefix else name)
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            _diff(old, new, path, name in COLLECTIONS, changes)
        else:
            changes.append(FieldChange(path, old, new))
