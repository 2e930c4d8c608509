"""dualtrack's HTTP path beside the plain FastAPI peer (bench.peer), measured in one run.

`python -m bench.http_figures [--quick]` measures on a scratch database of its own:

- the handbook: the HANDBOOK GraphQL query of a trainee with a long history beside the
  peer's GET /trainees/{id}/handbook of the same rows, one client, the two requests
  alternating so that both see the same moments of a shared machine; p50 and p99;
- commands: N clients (8) each recording handbook entries for a trainee of its own through
  the recordRotationEntry mutation, beside the same clients posting the same entries to the
  peer's POST /entries; the two sides take turns in rounds; requests/s, p50 and p99.

Both servers run under uvicorn in threads of this process (bench.http_api.serving), the
clients in a process of their own (bench.http_load). It asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import secrets
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from bench import http_api, http_load, peer
from service.bootstrap import Services
from service.settings import Settings

OURS, PEER = "ours", "peer"
ENTRY_DAY, ENTRY_TEXT = "2025-06-01", "bench case"


@dataclass(frozen=True)
class Latency:
    p50: float  # seconds
    p99: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Latency:
        return cls(p50=_percentile(values, 0.5), p99=_percentile(values, 0.99))


@dataclass(frozen=True)
class HandbookFigures:
    ours: Latency
    peer: Latency
    entries: int
    repeats: int


@dataclass(frozen=True)
class Throughput:
    requests_per_second: float
    latency: Latency
    requests: int


@dataclass(frozen=True)
class CommandFigures:
    ours: Throughput
    peer: Throughput
    clients: int


@contextmanager
def both_servers(services: Services) -> Iterator[tuple[str, str]]:
    """dualtrack's app and the peer, served the same way, side by side; their base URLs."""
    engine = peer.peer_engine(services.engine.url)
    try:
        peer.create_peer_tables(engine)
        with http_api.running_server(services) as ours, \
                http_api.serving(peer.create_peer_app(engine)) as theirs:
            yield ours, theirs
    finally:
        engine.dispose()


def handbook_figures(
    services: Services, trainee_id: uuid.UUID, entries: int, repeats: int
) -> HandbookFigures:
    """p50/p99 of the handbook of `trainee_id` (which has `entries` entries) over HTTP, ours
    and the peer's, `repeats` each, alternating; checks first that both answer the same rows."""
    services.projector.catch_up()
    query = {"query": http_api.HANDBOOK, "variables": {"t": str(trainee_id)}}
    auditor = http_api.auditor_headers(services.settings)
    with both_servers(services) as (ours_url, peer_url):
        ours = http_load.Request(OURS, "POST", f"{ours_url}/graphql", query, auditor)
        theirs = http_load.Request(PEER, "GET", f"{peer_url}/trainees/{trainee_id}/handbook")
        _check_same_handbook(ours, theirs, entries)
        measured = http_load.run([[ours, theirs]], count=2 * repeats, warmup=2)
    return HandbookFigures(ours=Latency.of(measured.latencies[OURS]),
                           peer=Latency.of(measured.latencies[PEER]),
                           entries=entries, repeats=repeats)


def command_figures(
    services: Services,
    targets: Sequence[tuple[uuid.UUID, uuid.UUID]],
    clients: int = 8,
    count: int = 100,
    rounds: int = 2,
) -> CommandFigures:
    """Requests/s and latency of `clients` clients each recording `count` entries per round,
    through our mutation and the peer's POST /entries, the sides taking turns for `rounds`
    rounds. `targets` are (trainee id, rotation id) pairs, one per client at least: each
    client writes to a trainee of its own."""
    if len(targets) < clients:
        raise ValueError(f"{clients} clients need {clients} (trainee, rotation) targets")
    settings = services.settings
    runs: dict[str, list[http_load.Run]] = {OURS: [], PEER: []}
    with both_servers(services) as (ours_url, peer_url):
        pairs = targets[:clients]
        ours_clients = [[_our_entry(ours_url, settings, *pair)] for pair in pairs]
        peer_clients = [[_peer_entry(peer_url, *pair)] for pair in pairs]
        for _ in range(rounds):
            runs[OURS].append(http_load.run(ours_clients, count=count))
            runs[PEER].append(http_load.run(peer_clients, count=count))
    return CommandFigures(ours=_throughput(runs[OURS], OURS), peer=_throughput(runs[PEER], PEER),
                          clients=clients)


def rows(handbook: HandbookFigures | None, commands: CommandFigures | None,
         ) -> list[tuple[str, str, str, str]]:
    """Table rows: measure, ours, the peer's, and our speed relative to the peer's (for
    latencies the peer's time over ours, so above 1 is faster, as for requests/s)."""
    result = []
    if handbook is not None:
        label = f"handbook over HTTP, {handbook.entries:,} entries"
        for name in ("p50", "p99"):
            ours, theirs = getattr(handbook.ours, name), getattr(handbook.peer, name)
            result.append((f"{label}, {name}", f"{ours * 1e3:,.1f} ms",
                           f"{theirs * 1e3:,.1f} ms (plain FastAPI peer)",
                           f"{theirs / ours:.2f}x"))
    if commands is not None:
        ours, theirs = commands.ours, commands.peer
        label = f"record an entry over HTTP, {commands.clients} clients"
        result.append((label, f"{ours.requests_per_second:,.1f} req/s",
                       f"{theirs.requests_per_second:,.1f} req/s (plain FastAPI peer)",
                       f"{ours.requests_per_second / theirs.requests_per_second:.2f}x"))
        for name in ("p50", "p99"):
            mine, peers = getattr(ours.latency, name), getattr(theirs.latency, name)
            result.append((f"{label}, {name}", f"{mine * 1e3:,.1f} ms",
                           f"{peers * 1e3:,.1f} ms (plain FastAPI peer)",
                           f"{peers / mine:.2f}x"))
    return result


def notes(handbook: HandbookFigures | None, commands: CommandFigures | None) -> list[str]:
    result = []
    if handbook is not None:
        result.append(
            f"handbook: {handbook.repeats} requests each, one client alternating between the "
            "HANDBOOK GraphQL query and the peer's GET of the same rows (FastAPI + SQLAlchemy "
            "Core + pydantic); ratio = peer time / our time")
    if commands is not None:
        result.append(
            f"commands: {commands.clients} clients in a separate process, each writing to its "
            f"own trainee; {commands.ours.requests} requests per side in alternating rounds; "
            "the peer inserts the same rm_rotation_entries-shaped row in its own transaction")
    return result


def _our_entry(url: str, settings: Settings, trainee: uuid.UUID,
               rotation: uuid.UUID) -> http_load.Request:
    variables = {"t": str(trainee), "r": str(rotation), "on": ENTRY_DAY, "d": ENTRY_TEXT}
    return http_load.Request(OURS, "POST", f"{url}/graphql",
                             {"query": http_api.RECORD_ENTRY, "variables": variables},
                             http_api.trainee_headers(settings, trainee))


def _peer_entry(url: str, trainee: uuid.UUID, rotation: uuid.UUID) -> http_load.Request:
    return http_load.Request(PEER, "POST", f"{url}/entries", {
        "trainee_id": str(trainee), "rotation_id": str(rotation), "kind": "CASE",
        "occurred_on": ENTRY_DAY, "description": ENTRY_TEXT})


def _check_same_handbook(ours: http_load.Request, theirs: http_load.Request,
                         entries: int) -> None:
    """Both sides must answer the same rows, else the figures compare different work."""
    with httpx.Client(timeout=http_load.TIMEOUT) as client:
        answer = client.request(ours.method, ours.url, json=ours.body, headers=ours.headers)
        peers = client.request(theirs.method, theirs.url)
    if answer.status_code != 200 or answer.json().get("errors"):
        raise RuntimeError(f"the handbook query failed: {answer.text[:300]}")
    if peers.status_code != 200:
        raise RuntimeError(f"the peer's handbook failed: {peers.text[:300]}")
    graphql, plain = answer.json()["data"]["trainee"], peers.json()

    def ids(rotations: list[dict[str, object]]) -> list[object]:
        return [(rotation["id"], [entry["id"] for entry in rotation["entries"]])  # type: ignore[attr-defined]
                for rotation in rotations]

    ours_ids, peer_ids = ids(graphql["handbook"]["rotations"]), ids(plain["rotations"])
    returned = sum(len(entry_ids) for _, entry_ids in ours_ids)
    if returned != entries or ours_ids != peer_ids:
        raise RuntimeError(f"the handbooks differ: ours has {returned} entries, the peer's "
                           f"{sum(len(e) for _, e in peer_ids)}, {entries} expected")
    if [a["id"] for a in graphql["handbook"]["assessments"]] != [
            a["id"] for a in plain["assessments"]]:
        raise RuntimeError("the handbooks' assessments differ")
    if sorted(c["kind"] for c in graphql["certificates"]) != sorted(
            c["kind"] for c in plain["certificates"]):
        raise RuntimeError("the handbooks' certificates differ")


def _throughput(runs: list[http_load.Run], label: str) -> Throughput:
    latencies = [value for run in runs for value in run.latencies[label]]
    seconds = sum(run.seconds for run in runs)
    return Throughput(requests_per_second=len(latencies) / seconds,
                      latency=Latency.of(latencies), requests=len(latencies))


def _percentile(values: Sequence[float], fraction: float) -> float:
    from bench.run import percentile  # bench.run may import this module

    return percentile(list(values), fraction)


@dataclass(frozen=True)
class Sizes:
    history: int  # events of the handbook's trainee
    repeats: int  # handbook requests per side
    clients: int
    count: int  # entries per client per round
    rounds: int


FULL = Sizes(history=3000, repeats=100, clients=8, count=100, rounds=2)
QUICK = Sizes(history=300, repeats=10, clients=8, count=10, rounds=1)


def main(argv: list[str] | None = None) -> int:
    from bench import dataset
    from bench.run import print_machine, scratch_database
    from service import bootstrap, migrate

    parser = argparse.ArgumentParser(prog="python -m bench.http_figures", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    sizes = QUICK if parser.parse_args(argv).quick else FULL
    with scratch_database() as url:
        settings = Settings(database_url=url, token_secret=secrets.token_urlsafe(48))
        migrate.upgrade(settings)
        services = bootstrap.build(settings)
        try:
            print_machine(services.engine)
            records = services.records
            entries = sizes.history - 2  # enroll + one rotation + the entries
            trainee, claim, _ = dataset.trainee_with_entries(records, 10**6, entries)
            records.save(trainee, claim)
            targets = []
            for serial in range(sizes.clients):
                writer, writer_claim, rotation = dataset.trainee_with_entries(records, serial, 0)
                records.save(writer, writer_claim)
                targets.append((writer.id, rotation))
            handbook = handbook_figures(services, trainee.id, entries, sizes.repeats)
            commands = command_figures(services, targets, sizes.clients, sizes.count,
                                       sizes.rounds)
        finally:
            services.close()
    table = [("measure", "dualtrack", "peer", "ratio"), *rows(handbook, commands)]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for n, row in enumerate(table):
        print(" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if n == 0:
            print("-+-".join("-" * width for width in widths))
    for note in notes(handbook, commands):
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
