"""The Mutation root, one module per mutation."""

from __future__ import annotations

import strawberry

from api.mutations.assign_tutor import assign_tutor
from api.mutations.award_degree import award_degree
from api.mutations.complete_rotation import complete_rotation
from api.mutations.correct_rotation_entry import correct_rotation_entry
from api.mutations.enroll_trainee import enroll_trainee
from api.mutations.grant_licence import grant_licence
from api.mutations.issue_diploma import issue_diploma
from api.mutations.issue_residency_certificate import issue_residency_certificate
from api.mutations.pause_webhook import pause_webhook
from api.mutations.record_assessment import record_assessment
from api.mutations.record_coursework import record_coursework
from api.mutations.record_ethics_violation import record_ethics_violation
from api.mutations.record_licensing_exam import record_licensing_exam
from api.mutations.record_national_exam import record_national_exam
from api.mutations.record_publication import record_publication
from api.mutations.record_rotation_entry import record_rotation_entry
from api.mutations.record_thesis_defense import record_thesis_defense
from api.mutations.redeliver_dead_letters import redeliver_dead_letters
from api.mutations.redeliver_webhook import redeliver_webhook
from api.mutations.register_webhook import register_webhook
from api.mutations.remove_webhook import remove_webhook
from api.mutations.resume_webhook import resume_webhook
from api.mutations.retract_rotation_entry import retract_rotation_entry
from api.mutations.revoke_certificate import revoke_certificate
from api.mutations.schedule_rotation import schedule_rotation
from api.mutations.sign_rotation_entry import sign_rotation_entry


@strawberry.type
class Mutation:
    enroll_trainee = strawberry.mutation(resolver=enroll_trainee)
    assign_tutor = strawberry.mutation(resolver=assign_tutor)
    schedule_rotation = strawberry.mutation(resolver=schedule_rotation)
    complete_rotation = strawberry.mutation(resolver=complete_rotation)
    record_rotation_entry = strawberry.mutation(resolver=record_rotation_entry)
    sign_rotation_entry = strawberry.mutation(resolver=sign_rotation_entry)
    retract_rotation_entry = strawberry.mutation(resolver=retract_rotation_entry)
    correct_rotation_entry = strawberry.mutation(resolver=correct_rotation_entry)
    record_assessment = strawberry.mutation(resolver=record_assessment)
    record_ethics_violation = strawberry.mutation(resolver=record_ethics_violation)
    grant_licence = strawberry.mutation(resolver=grant_licence)
    issue_residency_certificate = strawberry.mutation(resolver=issue_residency_certificate)
    record_publication = strawberry.mutation(resolver=record_publication)
    record_coursework = strawberry.mutation(resolver=record_coursework)
    record_thesis_defense = strawberry.mutation(resolver=record_thesis_defense)
    issue_diploma = strawberry.mutation(resolver=issue_diploma)
    award_degree = strawberry.mutation(resolver=award_degree)
    record_licensing_exam = strawberry.mutation(resolver=record_licensing_exam)
    record_national_exam = strawberry.mutation(resolver=record_national_exam)
    revoke_certificate = strawberry.mutation(resolver=revoke_certificate)
    # Webhooks for registries (README, Registries: Webhooks).
    register_webhook = strawberry.mutation(
        resolver=register_webhook,
        description="Registers a webhook endpoint; its secret is in the answer, only there.",
    )
    pause_webhook = strawberry.mutation(resolver=pause_webhook)
    resume_webhook = strawberry.mutation(resolver=resume_webhook)
    remove_webhook = strawberry.mutation(resolver=remove_webhook)
    redeliver_webhook = strawberry.mutation(
        resolver=redeliver_webhook, description="Sends a dead letter (DEAD delivery) again."
    )
    redeliver_dead_letters = strawberry.mutation(
        resolver=redeliver_dead_letters,
        description="Sends every dead letter of an endpoint again; answers how many.",
    )
