"""The auditor's commands: verify, checkpoint, export, verify-bundle, public-key, keygen,
snapshot-views.

`verify` and `verify-bundle` exit 0 when the evidence checks out and 1 when it does not,
so scripts and schedulers can act on the result; settings problems exit 2 as elsewhere.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from integrity.bundle import verify_bundle
from integrity.checkpoints import Checkpoint, CheckpointSigner, IntegrityFailure, SigningKeyError
from service import bootstrap, personal_data, positions
from service.settings import ConfigurationError, Settings

FAILED = 1


def verify(args: argparse.Namespace) -> int:
    witnessed = [_read_checkpoint(path) for path in args.since or []]
    trainee = None if args.trainee is None else _trainee_id(args.trainee)
    services = bootstrap.build(Settings.from_env())
    try:
        report = services.evidence.verify(trainee, witnessed)
    finally:
        services.close()
    scope = "the whole log" if trainee is None else f"trainee {trainee}"
    if report.ok:
        print(f"ok: {scope}: {report.checked} events verified; "
              f"{report.checkpoints_verified} signed checkpoint(s) match"
              + (f"; {report.unsealed} not yet sealed" if report.unsealed else ""))
        return 0
    position = "" if report.first_bad_position is None else (
        f" at position {positions.encode(report.first_bad_position)}"
    )
    print(f"FAILED: {scope}: first bad{position}: {report.problem} "
          f"({report.checked} events checked before it)")
    return FAILED


def checkpoint(args: argparse.Namespace) -> None:
    services = bootstrap.build(Settings.from_env())
    try:
        signed = services.evidence.checkpoint()
    finally:
        services.close()
    _write(json.dumps(signed.to_json(), indent=2), args.output)


def export(args: argparse.Namespace) -> None:
    trainee = _trainee_id(args.trainee)
    services = bootstrap.build(Settings.from_env())
    try:
        document = services.evidence.bundle(trainee)
    finally:
        services.close()
    output = args.output or f"evidence-{trainee}.json"
    Path(output).write_text(json.dumps(document, indent=1, ensure_ascii=False), "utf-8")
    print(f"wrote {len(document['events'])} events of trainee {trainee} with inclusion proofs "
          f"to the checkpoint of size {document['checkpoint']['tree_size']} to {output}",
          file=sys.stderr)


def verify_bundle_file(args: argparse.Namespace) -> int:
    """Needs no database and no settings: only the file and, ideally, the trusted key."""
    try:
        document: Any = json.loads(Path(args.file).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigurationError(f"cannot read bundle {args.file}: {error}") from None
    trusted = _trusted_key(args)
    report = verify_bundle(document, trusted)
    if report.ok:
        pinned = "the trusted key" if report.key_pinned else (
            "the key inside the bundle (not pinned: pass --public-key to hold it to yours)"
        )
        print(f"ok: {report.checked} events verified against a checkpoint signed by {pinned}")
        return 0
    print(f"FAILED: {len(report.problems)} problem(s)")
    for problem in report.problems:
        print(f"  - {problem}")
    return FAILED


def public_key(args: argparse.Namespace) -> None:
    signer = _signer(Settings.from_env())
    print(signer.public_key.hex())


def keygen(args: argparse.Namespace) -> None:
    if args.personal_data:
        _personal_data_keygen(args.file)
        return
    try:
        CheckpointSigner.generate().to_file(args.file)
    except SigningKeyError as error:
        raise ConfigurationError(str(error)) from None
    print(f"wrote a new checkpoint-signing key to {args.file}; its public key is "
          f"{CheckpointSigner.from_file(args.file).public_key.hex()}", file=sys.stderr)


def snapshot_views(args: argparse.Namespace) -> int:
    """Takes every view snapshot as-of replays would take lazily, so that the first
    question about a long record is fast too; or, with --verify, replays the events
    beside each snapshot and names any that holds other rows. Trainees are listed from
    the read model; snapshots are computed from, and checked against, the events."""
    from projections import replay
    from projections import tables as t

    services = bootstrap.build(Settings.from_env())
    taken = trainees = 0
    differing: list[str] = []
    try:
        if args.trainee is not None:
            ids = [_trainee_id(args.trainee)]
        else:
            with services.engine.connect() as connection:
                ids = [uuid.UUID(row[0]) for row in connection.execute(
                    sa.select(t.trainees.c.id).order_by(t.trainees.c.id))]
        for trainee in ids:
            if args.verify:
                differing += [f"trainee {trainee} at version {version}"
                              for version in replay.verify_snapshots(services.records, trainee)]
            else:
                taken += replay.take_snapshots(services.records, trainee)
            trainees += 1
            if trainees % 100 == 0:
                print(f"{trainees:,} of {len(ids):,} trainees", file=sys.stderr)
            replay.clear_cache(services.records)  # one trainee's images at a time
    finally:
        services.close()
    if args.verify and differing:
        print(f"FAILED: {len(differing)} view snapshot(s) hold rows or times their events do "
              "not give (delete them: they are derived data):")
        for found in differing:
            print(f"  - {found}")
        return FAILED
    if args.verify:
        print(f"ok: the view snapshots of {trainees:,} trainee(s) match their events")
        return 0
    print(f"ok: took {taken:,} view snapshot(s) of {trainees:,} trainee(s), every "
          f"{replay.CHECKPOINT_EVERY} events")
    return 0


def _personal_data_keygen(file: str) -> None:
    try:
        personal_data.write_key_file(file)
    except FileExistsError:
        raise ConfigurationError(f"{file} already exists; refusing to overwrite it") from None
    except OSError as error:
        raise ConfigurationError(f"cannot create {file}: {error.strerror}") from None
    print(f"wrote a new personal-data encryption key to {file}; point "
          f"{personal_data.KEY_VARIABLE} at it and keep a copy safe: without it the stored "
          "events cannot be read", file=sys.stderr)


def add_commands(commands: Any) -> None:
    parser = commands.add_parser("verify", help="check the event log against its hashes and "
                                 "signed checkpoints; exit 1 on the first bad position")
    parser.add_argument("--trainee", help="check one trainee's chain only")
    parser.add_argument("--since", action="append", metavar="CHECKPOINT.json",
                        help="a checkpoint you kept (from `dualtrack checkpoint`); the log "
                        "must still extend it (repeatable)")
    parser.set_defaults(run=verify)
    parser = commands.add_parser("checkpoint", help="sign a checkpoint of the log now and "
                                 "print it as JSON")
    parser.add_argument("-o", "--output", help="write it to this file instead of stdout")
    parser.set_defaults(run=checkpoint)
    parser = commands.add_parser("export", help="write one trainee's evidence bundle")
    parser.add_argument("--trainee", required=True)
    parser.add_argument("-o", "--output", help="default: evidence-<trainee>.json")
    parser.set_defaults(run=export)
    parser = commands.add_parser("verify-bundle", help="check an evidence bundle offline")
    parser.add_argument("file")
    parser.add_argument("--public-key", help="the log's public key, hex (from `dualtrack "
                        "public-key`), to hold the checkpoint to")
    parser.add_argument("--public-key-file", help="a file holding that key")
    parser.set_defaults(run=verify_bundle_file)
    commands.add_parser("public-key", help="print the checkpoint-signing public key (hex)"
                        ).set_defaults(run=public_key)
    parser = commands.add_parser("keygen", help="make a new checkpoint-signing key file "
                                 "(or, with --personal-data, an event encryption key file)")
    parser.add_argument("file")
    parser.add_argument("--personal-data", action="store_true",
                        help="make the AES key for DUALTRACK_CIPHER_KEY_FILE instead")
    parser.set_defaults(run=keygen)
    parser = commands.add_parser("snapshot-views", help="take the persisted snapshots that "
                                 "make as-of replays of long records fast (every trainee, "
                                 "or one)")
    parser.add_argument("--trainee", help="one trainee's snapshots only")
    parser.add_argument("--verify", action="store_true", help="take none: replay the events "
                        "beside the stored snapshots and exit 1 naming any that differ")
    parser.set_defaults(run=snapshot_views)


def _trainee_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ConfigurationError(f"--trainee must be a trainee id (a UUID), got {raw!r}") from None


def _read_checkpoint(path: str) -> Checkpoint:
    try:
        return Checkpoint.from_json(json.loads(Path(path).read_text("utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, IntegrityFailure) as error:
        raise ConfigurationError(f"cannot read checkpoint {path}: {error}") from None


def _trusted_key(args: argparse.Namespace) -> bytes | None:
    raw = args.public_key
    if args.public_key_file:
        try:
            raw = Path(args.public_key_file).read_text("ascii").strip()
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigurationError(f"cannot read {args.public_key_file}: {error}") from None
    if raw is None:
        return None
    try:
        key = bytes.fromhex(raw)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ConfigurationError("the public key must be 64 hex characters (an Ed25519 key)")
    return key


def _signer(settings: Settings) -> CheckpointSigner:
    return bootstrap.signing_key(settings)


def _write(text: str, output: str | None) -> None:
    if output:
        Path(output).write_text(text + "\n", "utf-8")
    else:
        print(text)
