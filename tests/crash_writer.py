"""A writer process for the crash tests: eight threads record entries through the group
committer and print `ACK <entry id>` for each command acknowledged, until killed.

    python -m tests.crash_writer TRAINEE:ROTATION [TRAINEE:ROTATION ...]

Settings come from the environment (DUALTRACK_DATABASE_URL, key files, ...). Bounded:
it stops by itself after MAX_SECONDS.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from datetime import date

from domain import commands as c
from service import bootstrap
from service.principals import system
from service.settings import Settings

WRITERS = 8
MAX_SECONDS = 60.0


def main(argv: list[str]) -> int:
    targets = [tuple(uuid.UUID(part) for part in arg.split(":")) for arg in argv]
    services = bootstrap.build(Settings.from_env())
    printing = threading.Lock()
    deadline = time.monotonic() + MAX_SECONDS

    def write(n: int) -> None:
        trainee, rotation = targets[n % len(targets)]
        while time.monotonic() < deadline:
            command = c.RecordRotationEntry(trainee, uuid.uuid4(), rotation, "CASE",
                                            date(2025, 2, 1), f"writer {n}")
            try:
                services.records.execute(command, system("crash-writer"))
            except Exception as error:  # a refusal is not an acknowledgement
                with printing:
                    print(f"REFUSED {type(error).__name__}", flush=True)
                continue
            with printing:
                print(f"ACK {command.entry_id}", flush=True)

    threads = [threading.Thread(target=write, args=(n,), daemon=True) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
