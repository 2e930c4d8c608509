"""R9: eligibility for the completion exam, and the residency certificate after it."""

from __future__ import annotations

from service.bootstrap import Services
from tests.api.conftest import GraphQL
from tests.regulations.conftest import (
    ASSESSMENT,
    GRANT_LICENCE,
    ISSUE_CERTIFICATE,
    certificates,
    completion_exam,
    read,
    refused,
)
from tests.scenarios import complete_training, enroll_programme_trainee


def test_r9_the_completion_exam_needs_the_whole_standard_passed_assessments_and_a_licence(
    gql: GraphQL, services: Services
) -> None:
    """Seed 004 art. 15 (Jilin): 医学硕士专业学位研究生符合以下条件可申请参加结业考核:
    1. 完成《住院医师规范化培训内容与标准（试行）》的全部内容，且过程考核合格; 2. 获得
    《医师资格证书》 - all of the training standard completed with process assessments
    passed, and a licence held. (Under Chongqing's policy, seed 000 §3.4.4, the process
    assessments include pre-job training and the stage assessment.)

    A sitting is refused listing every unmet condition, and the same list is what
    completionExam shows; a failed assessment not passed since also blocks. Once all
    hold, the sitting is accepted; the residency certificate is refused until a sitting
    has passed both parts (theory and clinical skills)."""
    t = enroll_programme_trainee(services)
    services.projector.catch_up()
    fresh = read(gql, t)["completionExam"]
    assert fresh["eligible"] is False
    early = refused(gql, services, ASSESSMENT, t=str(t), kind="COMPLETION_EXAM",
                    on="2024-07-01", ratings=completion_exam(True, True))
    assert early["extensions"]["unmet"] == fresh["unmet"]
    assert fresh["unmet"] == [
        "R4: 0 of 33 months of clinical training completed (including 0 credited prior "
        "months, R5)",
        "R4: 0 of 6 months as 24-hour resident in stage 2",
        "R8: ward: 0 of 18 months completed",
        "R8: ward: no passed MINI_CEX assessment",
        "R8: ward: no passed DEPARTURE_EXAM assessment",
        "R8: ward: 0 of 2 signed CASE entries",
        "R8: clinic: 0 of 9 months completed",
        "R8: clinic: no passed DOPS assessment",
        "R8: clinic: 0 of 1 signed PROCEDURE entries",
        "R12: no first tutor assigned",
        "R9: process assessment PRE_JOB_TRAINING not passed",
        "R9: process assessment STAGE not passed",
        "R9: no licence held",
    ]

    complete_training(services, t)
    gql.ok(ASSESSMENT, t=str(t), kind="ANNUAL", on="2026-06-10", passed=False)
    assert read(gql, t)["completionExam"] == {"eligible": False, "unmet": [
        "R9: ANNUAL assessment failed and not passed since", "R9: no licence held"]}
    gql.ok(ASSESSMENT, t=str(t), kind="ANNUAL", on="2026-06-20", passed=True)
    gql.ok(GRANT_LICENCE, t=str(t), on="2025-09-01")
    assert read(gql, t)["completionExam"] == {"eligible": True, "unmet": []}

    not_sat = refused(gql, services, ISSUE_CERTIFICATE, t=str(t), on="2026-08-01")
    assert not_sat["extensions"]["unmet"] == ["R9: completion exam not passed"]
    gql.ok(ASSESSMENT, t=str(t), kind="COMPLETION_EXAM", on="2026-07-01",
           ratings=completion_exam(True, False))
    failed = refused(gql, services, ISSUE_CERTIFICATE, t=str(t), on="2026-08-01")
    assert failed["extensions"]["unmet"] == ["R9: completion exam not passed"]
    assert certificates(read(gql, t))["RESIDENCY_CERTIFICATE"]["state"] == "NOT_ELIGIBLE"

    gql.ok(ASSESSMENT, t=str(t), kind="COMPLETION_EXAM", on="2026-09-01",
           ratings=completion_exam(True, True))
    assert certificates(read(gql, t))["RESIDENCY_CERTIFICATE"]["state"] == "ELIGIBLE"
    gql.ok(ISSUE_CERTIFICATE, t=str(t), on="2026-10-01")
    issued = certificates(read(gql, t))["RESIDENCY_CERTIFICATE"]
    assert (issued["state"], issued["number"]) == ("GRANTED", "R-1")
