"""Personal fields (name, national ID) reach a registry only with the personal_data scope,
in every form of the feed; lookup by national ID finds a trainee for those who may read it."""

from __future__ import annotations

import httpx

from api.app import create_app
from service.bootstrap import Services
from tests.api.conftest import GraphQL
from tests.callers import AUDITOR, base_admin, registry, school_admin, trainee
from tests.servers import serving

NATIONAL_ID = "110101199901011234"
FEED = """{ events(types: ["TraineeEnrolled"]) { items { traineeId data } } }"""


def enrolled_data(gql: GraphQL, caller: object) -> dict[str, object]:
    [item] = gql.ok(FEED, as_=caller)["events"]["items"]
    return dict(item["data"])


def test_only_a_registry_with_the_personal_data_scope_sees_name_and_national_id(
    gql: GraphQL, services: Services
) -> None:
    t = gql.enroll(nationalId=NATIONAL_ID)
    plain = enrolled_data(gql, registry())
    assert "name" not in plain and "national_id" not in plain
    assert plain["base_id"] == "base-1"
    entitled = enrolled_data(gql, registry(personal=True))
    assert (entitled["name"], entitled["national_id"]) == ("Li Lei", NATIONAL_ID)

    settings = services.settings
    with serving(create_app(services)) as url, httpx.Client(base_url=url, timeout=30) as http:
        without = http.get("/feed/events", headers=registry().authorization(settings)).json()
        with_scope = http.get(
            "/feed/events", headers=registry(personal=True).authorization(settings)
        ).json()
    [item] = [i for i in without["items"] if i["type"] == "TraineeEnrolled"]
    assert item["traineeId"] == t and "national_id" not in item["data"]
    [item] = [i for i in with_scope["items"] if i["type"] == "TraineeEnrolled"]
    assert item["data"]["national_id"] == NATIONAL_ID


def test_lookup_by_national_id_finds_the_trainee_for_those_who_may_read_it(
    gql: GraphQL,
) -> None:
    t = gql.enroll(nationalId=NATIONAL_ID)
    lookup = "query($n: String!) { traineeByNationalId(nationalId: $n) { id name } }"
    # Spacing and case do not matter: the ID is normalised before its keyed digest.
    found = gql.ok(lookup, as_=base_admin(), n=" 110101199901011234 ".lower())
    assert found["traineeByNationalId"] == {"id": t, "name": "Li Lei"}
    assert gql.ok(lookup, as_=AUDITOR, n=NATIONAL_ID)["traineeByNationalId"]["id"] == t
    assert gql.ok(lookup, as_=base_admin(), n="999999999999999999") == {
        "traineeByNationalId": None}
    elsewhere = gql.error(lookup, as_=school_admin("Fudan University"), n=NATIONAL_ID)
    assert elsewhere["extensions"]["code"] == "FORBIDDEN"
    assert gql.error(lookup, as_=trainee(t), n=NATIONAL_ID)["extensions"]["code"] == "FORBIDDEN"
