"""Issue 6: fuzzing the GraphQL endpoint finds no server error, and no refused or malformed
request ever writes an event.

Schemathesis loads the schema by introspection from a real uvicorn server (tests.servers)
and generates documents for every root Query and Mutation field, sent over real HTTP: as
STAFF (a valid token, so that cases reach the resolvers), in negative mode (values of the
wrong type), and with no token or a garbage one. Every answer must be a JSON GraphQL
response below 500 whose errors each carry a known code (never the masked
INTERNAL_SERVER_ERROR) and no stack trace or SQL; a read never writes an event, and a
mutation all of whose root fields failed writes none. Hand-written hostile requests check
each refusal's status and code, and that none of them wrote anything: among them, what
the fuzzing found and was fixed. What it found and is not fixed yet is pinned at the end,
as strict expected failures.

The run is bounded and reproducible: derandomized, no example database, a few examples
per root field (PER_OPERATION; DUALTRACK_FUZZ_SCALE multiplies them for a longer soak).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import graphql
import httpx
import pytest
import requests
import schemathesis
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.graphql import nodes
from schemathesis.specs.graphql.scalars import CUSTOM_SCALARS

from api.app import create_app
from api.errors import INTERNAL
from api.limits import MAX_ALIASES, MAX_QUERY_DEPTH, MAX_REQUEST_BYTES
from api.schema import schema as graphql_schema
from domain.guards import MAX_NAME, MAX_TEXT
from service.bootstrap import Services
from service.tokens import mint
from tests.api.conftest import ENROLL, enrollment, event_count
from tests.callers import AUDITOR, STAFF, trainee
from tests.servers import serving

# Every code an error may carry: api.errors (validation and the masked internal error,
# which must never appear), domain.errors and service.principals.
CODES = frozenset({
    "UNAUTHENTICATED", "FORBIDDEN", "BAD_USER_INPUT", "CONFLICT", "NOT_FOUND",
    "RULES_NOT_MET", "GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED",
})
# What an anonymous caller may hear: that it is not signed in, or that its request is
# malformed.
ANONYMOUS_CODES = frozenset({"UNAUTHENTICATED", "BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"})
# What a client must never see in an error: a stack trace or SQL.
LEAKS = ("Traceback", "sqlalchemy", "psycopg2", "SELECT ", 'File "')

# Examples per root field, so that every operation is fuzzed, whatever the draw:
# DUALTRACK_FUZZ_SCALE multiplies them for a longer soak.
SCALE = int(os.environ.get("DUALTRACK_FUZZ_SCALE", "1"))
PER_OPERATION = {
    name: examples * SCALE
    for name, examples in {"mutation": 8, "query": 5, "negative": 3, "anonymous": 2}.items()
}
# Shrinking a failure re-sends requests for as long as it finds smaller ones; the
# failing document is printed unshrunk either way (DUALTRACK_FUZZ_SHRINK=1 to shrink).
SHRINK = os.environ.get("DUALTRACK_FUZZ_SHRINK") == "1"


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, *([Phase.shrink] if SHRINK else [])],
    )


# -- the world the fuzzer's IDs point into -------------------------------------------------


@dataclass
class World:
    url: str
    services: Services
    ids: list[str]

    @property
    def endpoint(self) -> str:
        return f"{self.url}/graphql"

    def post(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        response = httpx.post(self.endpoint, json=body, headers=headers or {}, timeout=30)
        assert response.status_code == 200, response.text
        payload = response.json()
        assert "errors" not in payload, payload
        return payload["data"]


def _seed(world: World) -> None:
    """One trainee of base-1 with a rotation and an entry, so that the fuzzer's IDs (drawn
    in part from these) reach records that exist, not only NOT_FOUND."""
    settings_ = world.services.settings
    staff = STAFF.authorization(settings_)
    trainee_id = world.post({"query": ENROLL, "variables": {"input": enrollment()}},
                            staff)["enrollTrainee"]["traineeId"]
    rotation_id = world.post({"query": """mutation($t: ID!) { scheduleRotation(traineeId: $t,
        department: "cardiology", stage: 1, startOn: "2026-10-01", endOn: "2026-12-31")
        { id } }""", "variables": {"t": trainee_id}}, staff)["scheduleRotation"]["id"]
    entry_id = world.post({"query": """mutation($t: ID!, $r: ID!) { recordRotationEntry(
        traineeId: $t, rotationId: $r, kind: CASE, occurredOn: "2026-11-20",
        description: "pneumonia") { id } }""", "variables": {"t": trainee_id, "r": rotation_id}},
        trainee(trainee_id).authorization(settings_))["recordRotationEntry"]["id"]
    world.ids[:] = [trainee_id, trainee_id, trainee_id, rotation_id, entry_id, "base-1",
                    "dr-wang"]


def _scalars(ids: list[str]) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    """IDs: mostly known; dates: mostly within the trainee's record, so that commands get
    past their date rules; JSON (assessment ratings): small nested values."""
    known = st.integers(0, 63).map(lambda index: ids[index % len(ids)])
    strangers = st.one_of(st.uuids().map(str), st.text(max_size=40), st.just("a\x00b"))
    id_values = st.integers(0, 9).flatmap(lambda n: known if n < 7 else strangers)
    # The trainee's record runs from enrollment (2025-09-01) to the tests' today.
    near = st.dates(date(2025, 9, 1), date(2026, 11, 22))
    days = st.integers(0, 9).flatmap(lambda n: near if n < 8 else st.dates())
    moments = st.builds(lambda day, seconds: datetime.combine(day, datetime.min.time(), UTC)
                        + timedelta(seconds=seconds), days, st.integers(0, 86399))
    leaves = st.one_of(
        st.text(max_size=20).map(nodes.String), st.integers(-(2**31), 2**31 - 1).map(nodes.Int),
        st.booleans().map(nodes.Boolean), st.just(graphql.NullValueNode()),
    )

    def containers(
        children: st.SearchStrategy[graphql.ValueNode],
    ) -> st.SearchStrategy[graphql.ValueNode]:
        fields = st.dictionaries(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), children,
                                 max_size=4)
        return st.one_of(
            st.lists(children, max_size=4).map(nodes.List),
            fields.map(lambda members: nodes.Object([
                graphql.ObjectFieldNode(name=graphql.NameNode(value=name), value=value)
                for name, value in members.items()
            ])),
        )

    # Texts: any text, or one of the classic troublemakers: NUL and control characters,
    # SQL and LIKE metacharacters, texts just over the domain's limits, odd Unicode.
    nasty = st.sampled_from([
        "\x00", "a\x00b", "\x00" * 3, "\x1b[2J\x07", "' OR '1'='1' --", "%", "_%\\",
        "\\x00", "1; DROP TABLE dualtrack_events; --", "\u202eevil", "\ufeff", "\U0001f600",
        "x" * (MAX_NAME + 1), "x" * (MAX_TEXT + 1), " ", "\t\n", "null", "-1", "1e309",
    ])
    texts = st.integers(0, 9).flatmap(lambda n: nasty if n < 4 else st.text(max_size=60))
    return {
        "String": texts.map(nodes.String),
        "ID": id_values.map(nodes.String),
        "Date": days.map(str).map(nodes.String),
        "DateTime": moments.map(datetime.isoformat).map(nodes.String),
        "JSON": st.recursive(leaves, containers, max_leaves=8),
    }


@pytest.fixture
def world(services: Services) -> Iterator[World]:
    ids: list[str] = []
    registered = _scalars(ids)
    saved = {name: CUSTOM_SCALARS[name] for name in registered if name in CUSTOM_SCALARS}
    for name, strategy in registered.items():
        schemathesis.graphql.scalar(name, strategy)
    try:
        with serving(create_app(services)) as url:
            built = World(url, services, ids)
            _seed(built)
            yield built
    finally:
        for name in registered:
            CUSTOM_SCALARS.pop(name, None)
        CUSTOM_SCALARS.update(saved)


# -- what every answer must be ------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    document: str
    status: int
    content_type: str
    text: str
    written: int

    def where(self) -> str:
        return f"\n--- document:\n{self.document}\n--- answer {self.status}:\n{self.text[:2000]}"


def check(answer: Answer, is_mutation: bool) -> dict[str, Any]:
    """No server error, a coded JSON answer without leaks, and no write by a refusal; an
    AssertionError names every way the answer fails, then the document and the answer."""
    problems: list[str] = []
    body: dict[str, Any] = {}
    if answer.status >= 500:
        problems.append("a server error")
    if not answer.content_type.startswith("application/json"):
        problems.append("not JSON")
    else:
        body = json.loads(answer.text)
        if not isinstance(body, dict):
            problems.append("not a GraphQL response")
            body = {}
    errors = body.get("errors") or []
    for error in errors:
        code = (error.get("extensions") or {}).get("code")
        if code is None:
            problems.append("an error without a code")
        elif code == INTERNAL:
            problems.append("a masked internal error")
        elif code not in CODES:
            problems.append(f"an unknown code {code}")
        problems += [f"{leak!r} leaked" for leak in LEAKS if leak in error["message"]]
    data = body.get("data")
    if answer.written and not is_mutation:
        problems.append(f"a read wrote {answer.written} events")
    refused = errors or answer.status >= 400 or not body
    if answer.written and refused and (not data or all(value is None for value in data.values())):
        problems.append(f"a refused mutation wrote {answer.written} events")
    assert not problems, "; ".join(problems) + answer.where()
    return body


def fuzz(
    world: World,
    strategy: st.SearchStrategy[Any],
    examples: int,
    headers: dict[str, str],
    also: Callable[[Any, dict[str, Any]], None] = lambda case, body: None,
) -> int:
    """Sends `examples` generated cases with `headers` and checks each; answers how many
    of them wrote."""
    session = requests.Session()
    wrote = 0

    @fuzz_settings(examples)
    @given(case=strategy)
    def run(case: Any) -> None:
        nonlocal wrote
        before = event_count(world.services)
        response = case.call(base_url=world.endpoint, session=session, headers=headers,
                             timeout=30)
        written = event_count(world.services) - before
        content_type = (response.headers.get("content-type") or [""])[0]
        answer = Answer(str(case.body), response.status_code, content_type,
                        response.content.decode("utf-8", "replace"), written)
        body = check(answer, case.operation.label.startswith("Mutation."))
        also(case, body)
        wrote += written > 0

    try:
        run()
    finally:
        session.close()
    return wrote


def operations(world: World) -> list[Any]:
    """Every root Query and Mutation field, from the running server's introspection."""
    schema = schemathesis.graphql.from_url(
        world.endpoint, config=SchemathesisConfig(),
        headers=STAFF.authorization(world.services.settings), timeout=30,
    )
    found = [result.ok() for result in schema.get_all_operations()]
    served = graphql_schema._schema
    every = {f"{root.name}.{name}" for root in (served.query_type, served.mutation_type)
             if root is not None for name in root.fields}
    assert {operation.label for operation in found} == every
    return found


def test_fuzzing_as_staff_finds_no_server_error_and_refusals_write_nothing(
    world: World,
) -> None:
    staff = STAFF.authorization(world.services.settings)
    wrote = 0
    for operation in operations(world):
        mutation = operation.label.startswith("Mutation.")
        examples = PER_OPERATION["mutation" if mutation else "query"]
        wrote += fuzz(world, operation.as_strategy(), examples, staff)
        negative = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
        fuzz(world, negative, PER_OPERATION["negative"], staff)
    assert wrote > 0, "no generated mutation succeeded: the fuzzer does not reach the domain"


def test_fuzzing_without_valid_credentials_is_refused_and_writes_nothing(
    world: World,
) -> None:
    before = event_count(world.services)

    def anonymous(case: Any, body: dict[str, Any]) -> None:
        data = body.get("data") or {}
        served = {name: value for name, value in data.items() if value is not None}
        assert not served, f"served without credentials: {served}\n{case.body}"
        assert body.get("errors"), f"no refusal\n{case.body}"
        # Refused before anything is looked up: no FORBIDDEN, NOT_FOUND or CONFLICT tells
        # an anonymous caller what exists. (Malformed arguments are refused first.)
        codes = {error["extensions"]["code"] for error in body["errors"]}
        assert codes <= ANONYMOUS_CODES, f"{sorted(codes)}\n{case.body}\n{body}"

    for operation in operations(world):
        for headers in ({}, {"Authorization": "Bearer not.a.token"}):
            examples = PER_OPERATION["anonymous"]
            assert fuzz(world, operation.as_strategy(), examples, headers, anonymous) == 0
    assert event_count(world.services) == before


# -- hostile requests, by hand ----------------------------------------------------------

Send = Callable[[httpx.Client, World], httpx.Response]


def attempt(send: Send, client: httpx.Client, world: World) -> httpx.Response | str:
    """The answer, or how the connection failed (a server error all the same)."""
    try:
        return send(client, world)
    except httpx.TransportError as failure:
        return f"no answer: {failure!r}"


@dataclass(frozen=True)
class Hostile:
    label: str
    send: Send
    status: int
    code: str



def _as(headers: Callable[[World], dict[str, str]], body: Any) -> Send:
    """Posts `body` as JSON escaped to ASCII, so that even a lone surrogate goes through."""
    def send(client: httpx.Client, world: World) -> httpx.Response:
        return client.post("/graphql", content=json.dumps(body).encode(),
                           headers=headers(world) | {"content-type": "application/json"})
    return send


def _staff(world: World) -> dict[str, str]:
    return STAFF.authorization(world.services.settings)


def _post(body: Any) -> Send:
    return _as(_staff, body)


def _with_trainee(make: Callable[[str], Any]) -> Send:
    """A body naming the seeded trainee."""
    def send(client: httpx.Client, world: World) -> httpx.Response:
        return _post(make(world.ids[0]))(client, world)
    return send


def _raw(content: bytes, content_type: str) -> Send:
    def send(client: httpx.Client, world: World) -> httpx.Response:
        return client.post("/graphql", content=content,
                           headers=_staff(world) | {"content-type": content_type})
    return send


def _expired(world: World) -> dict[str, str]:
    token = mint(world.services.settings, roles=list(STAFF.roles), subject=STAFF.subject,
                 base_id=STAFF.base_id, university=STAFF.university,
                 now=datetime.now(UTC) - timedelta(hours=3))
    return {"Authorization": f"Bearer {token}"}


def _foreign(world: World) -> dict[str, str]:
    """A well-formed token, signed with a secret this service does not hold."""
    other = replace(world.services.settings,
                    token_secret="another-secret-" + "fedcba9876543210" * 2)
    token = mint(other, roles=["base_admin"], subject="mallory", base_id="base-1")
    return {"Authorization": f"Bearer {token}"}


def _deep() -> str:
    selection = "id"
    for level in range(MAX_QUERY_DEPTH + 1):
        selection = f"f{level} {{ {selection} }}"
    return ("mutation($input: EnrollTraineeInput!) "
            f"{{ enrollTrainee(input: $input) {{ {selection} }} }}")


def _enroll(national_id: str, **changes: Any) -> dict[str, Any]:
    """An enrollment that would succeed but for `changes` (each with a national ID of its
    own, so that no refusal is a mere duplicate)."""
    return {"query": ENROLL,
            "variables": {"input": enrollment(nationalId=national_id, **changes)}}


LONE_SURROGATE = "\ud800"
ETHICS = """mutation($t: ID!, $d: String!) { recordEthicsViolation(traineeId: $t,
    occurredOn: "2026-11-01", description: $d, confirmed: false) { position } }"""
ASSIGN = """mutation($t: ID!, $x: ID!) { assignTutor(traineeId: $t, tutorId: $x,
    role: HOSPITAL_TUTOR, assignedOn: "2026-11-01") { position } }"""
HOSTILE = [
    Hostile("a name over the domain's limit",
            _post(_enroll("110101199901011111", name="x" * (MAX_NAME + 1))),
            200, "BAD_USER_INPUT"),
    Hostile("a description over the domain's limit",
            _with_trainee(lambda t: {"query": ETHICS, "variables": {
                "t": t, "d": "x" * (MAX_TEXT + 1)}}), 200, "BAD_USER_INPUT"),
    Hostile("a 2 MiB body", _post(_enroll("110101199901011112", name="x" * 2 * MAX_REQUEST_BYTES)),
            413, "BAD_USER_INPUT"),
    Hostile("a document deeper than the limit",
            _post({"query": _deep(), "variables": _enroll("110101199901011113")["variables"]}),
            200, "GRAPHQL_VALIDATION_FAILED"),
    Hostile("more aliases than the limit", _post({
        "query": "mutation($input: EnrollTraineeInput!) { " + " ".join(
            f"e{n}: enrollTrainee(input: $input) {{ position }}" for n in range(MAX_ALIASES + 1)
        ) + " }", "variables": _enroll("110101199901011114")["variables"]}),
            200, "GRAPHQL_VALIDATION_FAILED"),
    Hostile("more tokens than the limit",
            _post({"query": "{ " + " ".join(["__typename"] * 5001) + " }"}),
            200, "GRAPHQL_VALIDATION_FAILED"),
    Hostile("a forged actor (X-Actor, X-Forwarded-User) and no token",
            _as(lambda world: {"X-Actor": STAFF.subject, "X-Forwarded-User": STAFF.subject},
                _enroll("110101199901011115")), 200, "UNAUTHENTICATED"),
    Hostile("an expired token", _as(_expired, _enroll("110101199901011116")),
            200, "UNAUTHENTICATED"),
    Hostile("a garbage token", _as(lambda world: {"Authorization": "Bearer x.y.z"},
                                   _enroll("110101199901011117")), 200, "UNAUTHENTICATED"),
    Hostile("a token signed with another secret", _as(_foreign, _enroll("110101199901011118")),
            200, "UNAUTHENTICATED"),
    Hostile("an unauthenticated mutation", _as(lambda world: {}, _enroll("110101199901011119")),
            200, "UNAUTHENTICATED"),
    Hostile("a forbidden mutation (an auditor enrolls)",
            _as(lambda world: AUDITOR.authorization(world.services.settings),
                _enroll("110101199901011120")), 200, "FORBIDDEN"),
    Hostile("a variable of the wrong type",
            _post({"query": ENROLL, "variables": {"input": "everyone"}}), 200, "BAD_USER_INPUT"),
    Hostile("a field of the wrong type", _post(_enroll("110101199901011121", cohort="twenty")),
            200, "BAD_USER_INPUT"),
    Hostile("a number beyond Int",
            _post({"query": "{ trainees(first: 99999999999) { items { id } } }"}),
            200, "BAD_USER_INPUT"),
    Hostile("a malformed document", _post({"query": "mutation { enrollTrainee(input: {"}),
            200, "GRAPHQL_VALIDATION_FAILED"),
    Hostile("an unknown field", _post({"query": "mutation { dropEverything }"}),
            200, "GRAPHQL_VALIDATION_FAILED"),
    Hostile("a NUL byte in an id",
            _post({"query": 'mutation { issueDiploma(traineeId: "\\u0000", number: "D1", '
                            'issuedOn: "2026-11-01") { position } }'}), 200, "BAD_USER_INPUT"),
    # What the fuzzing found (each was a server error, and the NUL bytes worse: PostgreSQL
    # stored the events, then the projection failed, and so did every later write).
    Hostile("a NUL byte in a trainee's name",
            _post(_enroll("110101199901011130", name="Li\x00Lei")), 200, "BAD_USER_INPUT"),
    Hostile("a NUL byte in a tutor's id", _with_trainee(lambda t: {
        "query": ASSIGN, "variables": {"t": t, "x": "dr\x00wang"}}), 200, "BAD_USER_INPUT"),
    Hostile("a NUL byte in a description", _with_trainee(lambda t: {
        "query": ETHICS, "variables": {"t": t, "d": "late\x00"}}), 200, "BAD_USER_INPUT"),
    Hostile("a NUL byte in trainees(specialty:)",
            _post({"query": '{ trainees(specialty: "a\\u0000b") { items { id } } }'}),
            200, "BAD_USER_INPUT"),
    Hostile("a NUL byte in trainees(baseId:)",
            _post({"query": '{ trainees(baseId: "a\\u0000b") { items { id } } }'}),
            200, "BAD_USER_INPUT"),
    Hostile("a NUL byte in events(types:)",
            _post({"query": '{ events(types: ["a\\u0000b"]) { items { id } } }'}),
            200, "BAD_USER_INPUT"),
    Hostile("a lone surrogate in a trainee's name",
            _post(_enroll("110101199901011131", name=LONE_SURROGATE)), 200, "BAD_USER_INPUT"),
    Hostile("a lone surrogate in a lookup", _post({
        "query": "query($n: String!) { traineeByNationalId(nationalId: $n) { id } }",
        "variables": {"n": LONE_SURROGATE}}), 200, "BAD_USER_INPUT"),
    Hostile("a body that is not UTF-8",
            _raw(b'{"query": "{ \xff__typename }"}', "application/json"), 400, "BAD_USER_INPUT"),
    Hostile("a subscription over HTTP POST",
            _post({"query": "subscription { events { position } }"}), 200, "BAD_USER_INPUT"),
    Hostile("an unknown enum value in a variable",
            _post(_enroll("110101199901011132", pathway="EVERYTHING")), 200, "BAD_USER_INPUT"),
]


def refusal_problems(hostile: Hostile, response: httpx.Response | str) -> list[str]:
    """What is wrong with the answer to a request that must be refused with its code."""
    if isinstance(response, str):
        return [f"{hostile.label}: {response}"]
    where = f"{hostile.label}: {response.status_code} {response.text[:300]}"
    if response.status_code != hostile.status:
        return [f"status, not {hostile.status}: {where}"]
    answer = Answer(hostile.label, response.status_code,
                    response.headers.get("content-type", ""), response.text, 0)
    try:
        body = check(answer, is_mutation=True)
    except AssertionError as problem:
        return [str(problem).split("\nassert ")[0]]
    codes = {error["extensions"]["code"] for error in body.get("errors") or []}
    if codes != {hostile.code}:
        return [f"codes {sorted(codes)}, not {hostile.code}: {where}"]
    if any((body.get("data") or {}).values()):
        return [f"served: {where}"]
    return []


def test_hostile_requests_are_refused_with_their_code_and_write_nothing(world: World) -> None:
    before = event_count(world.services)
    problems: list[str] = []
    with httpx.Client(base_url=world.url, timeout=30) as client:
        for hostile in HOSTILE:
            problems += refusal_problems(hostile, attempt(hostile.send, client, world))
            if event_count(world.services) != before:
                problems.append(f"{hostile.label} wrote")
                before = event_count(world.services)
    assert not problems, "\n".join(problems)
    # None of them spoilt the service for the next write; and with a token as well, the
    # forged actor is ignored: the write is the token's subject's.
    with httpx.Client(base_url=world.url, timeout=30) as client:
        forged = _as(lambda world: _staff(world) | {"X-Actor": "dr-wang"},
                     {"query": ETHICS, "variables": {"t": world.ids[0], "d": "late"}}
                     )(client, world)
    position = forged.json()["data"]["recordEthicsViolation"]["position"]
    trail = world.post({"query": """query($t: ID!) { trainee(id: $t) { auditTrail(first: 100)
        { items { position actor } } } }""", "variables": {"t": world.ids[0]}}, _staff(world))
    actors = {item["position"]: item["actor"] for item in trail["trainee"]["auditTrail"]["items"]}
    assert actors[position] == STAFF.subject
    assert event_count(world.services) == before + 1


# Refused by the HTTP layer, before any GraphQL runs.
HTTP_REFUSALS = [
    Hostile("invalid JSON", _raw(b'{"query": "{ __typename }"', "application/json"),
            400, "BAD_USER_INPUT"),
    Hostile("a wrong content type", _raw(ENROLL.encode(), "text/plain"), 400, "BAD_USER_INPUT"),
    Hostile("a batch (a JSON array)", _post([_enroll("110101199901011122")]),
            400, "BAD_USER_INPUT"),
    Hostile("no query", _post({"variables": {}}), 400, "BAD_USER_INPUT"),
    Hostile("variables not an object", _post({"query": ENROLL, "variables": [1]}),
            400, "BAD_USER_INPUT"),
    Hostile("an unknown operationName",
            _post({"query": ENROLL, "operationName": "Drop"} | _enroll("110101199901011123")),
            400, "BAD_USER_INPUT"),
    Hostile("a mutation over GET", lambda client, world: client.get(
        "/graphql", params={"query": 'mutation { redeliverDeadLetters(endpointId: "x") }'},
        headers=_staff(world)), 400, "BAD_USER_INPUT"),
]


def test_http_level_refusals_write_nothing(world: World) -> None:
    before = event_count(world.services)
    with httpx.Client(base_url=world.url, timeout=30) as client:
        for hostile in HTTP_REFUSALS:
            response = hostile.send(client, world)
            assert response.status_code == hostile.status, (hostile.label, response.text)
    assert event_count(world.services) == before


# -- what this fuzzing found and is not fixed -------------------------------------------


@pytest.mark.xfail(strict=True, reason=(
    "finding: strawberry refuses these itself, with text/plain and no extensions.code "
    "(e.g. 'Unable to parse request body as JSON'); strict, so that the fix fails this "
    "test until the marker goes"))
def test_http_level_refusals_carry_a_code(world: World) -> None:
    problems: list[str] = []
    with httpx.Client(base_url=world.url, timeout=30) as client:
        for hostile in HTTP_REFUSALS:
            problems += refusal_problems(hostile, attempt(hostile.send, client, world))
    assert not problems, "\n".join(problems)


def test_an_anonymous_caller_learns_nothing_of_webhook_endpoints(world: World) -> None:
    """Found here, fixed: webhookDeliveries looked the endpoint up before it asked who was
    calling, so NOT_FOUND for an unknown id told an anonymous caller which ids exist."""
    document = """query($w: ID!) { webhookDeliveries(endpointId: $w) { nextCursor } }"""
    with httpx.Client(base_url=world.url, timeout=30) as client:
        response = _as(lambda world: {}, {"query": document, "variables": {
            "w": "6f1c2a8e-0000-4000-8000-000000000000"}})(client, world)
    codes = {error["extensions"]["code"] for error in response.json()["errors"]}
    assert codes == {"UNAUTHENTICATED"}, response.text
