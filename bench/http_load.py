"""HTTP clients for the benchmark: N concurrent clients on loopback, in a process of their own.

The servers measured run in threads of the benchmark's process (bench.http_api.serving); the
clients run in a separate process (`python -m bench.http_load`, spoken to over stdin and
stdout in JSON), so their work never competes with the server's for the interpreter lock.
Every side is driven by the same clients: httpx, one keep-alive connection per client,
JSON bodies, the answer read whole before the clock stops and checked after it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 120.0


@dataclass(frozen=True)
class Request:
    """One request a client sends; `label` names whose server it measures."""

    label: str
    method: str
    url: str
    body: Any = None  # sent as JSON
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    """What a run measured: every request's latency in seconds, by label, and how long the
    whole run took from the moment every client was ready."""

    seconds: float
    latencies: dict[str, list[float]]

    @property
    def requests(self) -> int:
        return sum(len(values) for values in self.latencies.values())


class LoadFailed(RuntimeError):
    """A request was not answered with success: the figures would measure an error path."""


def run(clients: list[list[Request]], count: int, warmup: int = 3) -> Run:
    """Each client sends `count` requests, one after another, cycling through its list,
    after `warmup` unmeasured ones; the clients run at once."""
    spec = {
        "clients": [[request.__dict__ for request in requests] for requests in clients],
        "count": count,
        "warmup": warmup,
    }
    finished = subprocess.run(
        [sys.executable, "-m", "bench.http_load"], input=json.dumps(spec), capture_output=True,
        text=True, cwd=REPO, check=False,
    )
    if finished.returncode != 0:
        raise LoadFailed(f"the load clients failed: {finished.stderr.strip()[-2000:]}")
    answer = json.loads(finished.stdout)
    if answer["failures"]:
        raise LoadFailed(f"{answer['failures']} requests failed; the first: {answer['first']}")
    return Run(seconds=answer["seconds"], latencies=answer["latencies"])


def _failure(response: httpx.Response) -> str | None:
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text[:300]}"
    body = response.json()
    if isinstance(body, dict) and body.get("errors"):
        return f"errors: {json.dumps(body['errors'])[:300]}"
    return None


class _Client(threading.Thread):
    def __init__(self, requests: list[dict[str, Any]], count: int, warmup: int,
                 ready: threading.Barrier):
        super().__init__(daemon=True)
        self.requests, self.count, self.warmup, self.ready = requests, count, warmup, ready
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.failures: list[str] = []
        self.finished_at = 0.0

    def send(self, client: httpx.Client, n: int) -> tuple[str, float]:
        request = self.requests[n % len(self.requests)]
        started = time.perf_counter()
        response = client.request(request["method"], request["url"], json=request["body"],
                                  headers=request["headers"])
        elapsed = time.perf_counter() - started
        problem = _failure(response)
        if problem is not None:
            self.failures.append(f"{request['label']}: {problem}")
        return request["label"], elapsed

    def run(self) -> None:
        try:
            with httpx.Client(timeout=TIMEOUT) as client:
                try:
                    for n in range(self.warmup):
                        self.send(client, n)
                finally:
                    self.ready.wait()
                for n in range(self.count):
                    label, elapsed = self.send(client, n)
                    self.latencies[label].append(elapsed)
        except Exception as error:  # reported to the benchmark, which stops
            self.failures.append(f"{type(error).__name__}: {error}")
        finally:
            self.finished_at = time.perf_counter()


def _serve(spec: dict[str, Any]) -> dict[str, Any]:
    ready = threading.Barrier(len(spec["clients"]) + 1, timeout=TIMEOUT)
    clients = [_Client(requests, spec["count"], spec["warmup"], ready)
               for requests in spec["clients"]]
    for client in clients:
        client.start()
    ready.wait()
    started = time.perf_counter()
    for client in clients:
        client.join()
    latencies: dict[str, list[float]] = defaultdict(list)
    for client in clients:
        for label, values in client.latencies.items():
            latencies[label].extend(values)
    failures = [problem for client in clients for problem in client.failures]
    return {
        "seconds": max(client.finished_at for client in clients) - started,
        "latencies": latencies,
        "failures": len(failures),
        "first": failures[0] if failures else None,
    }


if __name__ == "__main__":
    json.dump(_serve(json.load(sys.stdin)), sys.stdout)
