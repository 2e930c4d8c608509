"""R13: the ethics record and its one-vote veto (一票否决)."""

from __future__ import annotations

from service.bootstrap import Services
from tests.api.conftest import GraphQL
from tests.callers import STAFF
from tests.regulations.conftest import (
    ASSESSMENT,
    AWARD_DEGREE,
    GRANT_LICENCE,
    ISSUE_CERTIFICATE,
    ISSUE_DIPLOMA,
    SCHOOL,
    certificates,
    completion_exam,
    read,
    refused,
)
from tests.scenarios import complete_training, degree_work, enroll_programme_trainee

VIOLATION = """
mutation($t: ID!, $confirmed: Boolean!) { recordEthicsViolation(traineeId: $t,
    occurredOn: "2026-06-15", description: "falsified a ward round note",
    confirmed: $confirmed) { id } }"""
VETO = "R13: 1 confirmed ethics violation(s) veto the comprehensive evaluation"


def states(gql: GraphQL, t: str) -> dict[str, str]:
    return {kind: c["state"] for kind, c in certificates(read(gql, t)).items()}


def test_r13_a_confirmed_violation_vetoes_every_certificate_but_the_licence(
    gql: GraphQL, services: Services
) -> None:
    """Seed 002 (二、(二) 1.(3) 培育医德医风): 建立医德档案与评价机制，将医德医风表现
    纳入综合评价体系，实行"一票否决制"，对医德失范行为零容忍 - an ethics record is kept,
    ethics is part of the comprehensive evaluation, and a lapse is a one-vote veto.

    A report that is not confirmed vetoes nothing. A confirmed violation is recorded for
    good (no command retracts it) and the residency certificate, the diploma and the
    degree are refused naming it, with nothing written. The licence comes from the
    national exam, not from the programme's evaluation, so it is still granted."""
    trainee = enroll_programme_trainee(services)
    complete_training(services, trainee)
    degree_work(services, trainee)
    services.projector.catch_up()
    t = str(trainee)
    eligible = {"LICENCE": "ELIGIBLE", "RESIDENCY_CERTIFICATE": "NOT_ELIGIBLE",
                "DIPLOMA": "ELIGIBLE", "DEGREE": "ELIGIBLE"}
    assert states(gql, t) == eligible

    gql.ok(VIOLATION, t=t, confirmed=False)
    assert states(gql, t) == eligible

    gql.ok(VIOLATION, t=t, confirmed=True)
    vetoed = certificates(read(gql, t))
    assert (vetoed["DIPLOMA"]["state"], vetoed["DIPLOMA"]["unmet"]) == ("NOT_ELIGIBLE", [VETO])
    assert (vetoed["DEGREE"]["state"], vetoed["DEGREE"]["unmet"]) == ("NOT_ELIGIBLE", [VETO])
    assert vetoed["RESIDENCY_CERTIFICATE"]["unmet"] == [VETO, "R9: no licence held",
                                                         "R9: completion exam not passed"]
    assert vetoed["LICENCE"] == {"kind": "LICENCE", "state": "ELIGIBLE", "number": None,
                                 "unmet": [], "revocationReason": None}

    gql.ok(GRANT_LICENCE, t=t, on="2026-07-01")
    gql.ok(ASSESSMENT, t=t, kind="COMPLETION_EXAM", on="2026-08-01",
           ratings=completion_exam(True, True))
    for command, issuer in ((ISSUE_CERTIFICATE, STAFF), (ISSUE_DIPLOMA, SCHOOL),
                            (AWARD_DEGREE, SCHOOL)):
        refusal = refused(gql, services, command, as_=issuer, t=t, on="2026-09-01")
        assert refusal["extensions"]["unmet"] == [VETO], command
    assert states(gql, t) == {"LICENCE": "GRANTED", "RESIDENCY_CERTIFICATE": "NOT_ELIGIBLE",
                              "DIPLOMA": "NOT_ELIGIBLE", "DEGREE": "NOT_ELIGIBLE"}

    kept = gql.ok("""query($t: ID!) { events(traineeId: $t, types: ["EthicsViolationRecorded"])
                     { items { data } } }""", t=t)["events"]["items"]
    assert [item["data"]["confirmed"] for item in kept] == [False, True]
