"""The auditor's command line, run as an auditor runs it: verify, checkpoint, export, and
check a bundle offline, on a machine with no database at all."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from service.bootstrap import Services
from service.settings import Settings
from tests.history import realistic
from tests.store_admin import bypassing_append_only
from tests.test_cli import dualtrack


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    return {
        "DUALTRACK_DATABASE_URL": settings.database_url,
        "DUALTRACK_SIGNING_KEY_FILE": settings.signing_key_file,
        "DUALTRACK_CIPHER_KEY_FILE": settings.cipher_key_file,
        "DUALTRACK_REGULATIONS_DIR": str(settings.regulations_dir),
    }


@pytest.fixture
def trainee(services: Services) -> uuid.UUID:
    return realistic(services).trainee_id


def test_verify_passes_then_names_the_first_bad_position(
    services: Services, env: dict[str, str], trainee: uuid.UUID
) -> None:
    good = dualtrack("verify", env=env)
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith("ok: the whole log: 29 events verified")
    assert dualtrack("verify", "--trainee", str(trainee), env=env).returncode == 0

    with services.engine.begin() as connection, bypassing_append_only(connection):
        connection.execute(sa.text("UPDATE dualtrack_events SET state = :s WHERE id = 7"),
                           {"s": b'{"forged": true}'})
    bad = dualtrack("verify", env=env)
    assert bad.returncode == 1
    assert "FAILED: the whole log: first bad at position 0000000000000007" in bad.stdout
    assert "6 events checked before it" in bad.stdout


def test_a_kept_checkpoint_must_still_be_extended(
    services: Services, env: dict[str, str], trainee: uuid.UUID, tmp_path: Path
) -> None:
    kept = tmp_path / "checkpoint.json"
    assert dualtrack("checkpoint", "-o", str(kept), env=env).returncode == 0
    assert json.loads(kept.read_text())["tree_size"] == 29
    assert dualtrack("verify", "--since", str(kept), env=env).returncode == 0

    forged = json.loads(kept.read_text()) | {"root_hash": "00" * 32}
    kept.write_text(json.dumps(forged))
    result = dualtrack("verify", "--since", str(kept), env=env)
    assert result.returncode == 1 and "signature" in result.stdout


def test_an_exported_bundle_verifies_offline_and_a_tampered_one_does_not(
    services: Services, env: dict[str, str], trainee: uuid.UUID, tmp_path: Path
) -> None:
    bundle = tmp_path / "evidence.json"
    exported = dualtrack("export", "--trainee", str(trainee), "-o", str(bundle), env=env)
    assert exported.returncode == 0, exported.stderr
    key = dualtrack("public-key", env=env).stdout.strip()
    assert len(key) == 64

    # The auditor's machine: no database, no settings, another directory.
    offline = tmp_path / "auditor"
    offline.mkdir()
    checked = dualtrack("verify-bundle", str(bundle), "--public-key", key, env={}, cwd=offline)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("ok: 28 events verified against a checkpoint signed by "
                                     "the trusted key")
    unpinned = dualtrack("verify-bundle", str(bundle), env={}, cwd=offline)
    assert unpinned.returncode == 0 and "not pinned" in unpinned.stdout

    document = json.loads(bundle.read_text())
    event = document["events"][4]
    # an insider holding the encryption key too: the edit is a well-formed event
    cipher = services.records.mapper.cipher
    assert cipher is not None
    state = json.loads(cipher.decrypt(base64.b64decode(event["state"])))
    state["description"] = "a procedure that never happened"
    event["state"] = base64.b64encode(cipher.encrypt(json.dumps(state).encode())).decode()
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(document))
    failed = dualtrack("verify-bundle", str(tampered), "--public-key", key, env={}, cwd=offline)
    assert failed.returncode == 1
    assert f"position {event['position']}" in failed.stdout

    wrong_key = dualtrack("verify-bundle", str(bundle), "--public-key", "11" * 32, env={},
                          cwd=offline)
    assert wrong_key.returncode == 1


def test_bad_arguments_are_one_line_errors(env: dict[str, str], tmp_path: Path) -> None:
    for args, says in [
        (("export", "--trainee", "nobody"), "must be a trainee id"),
        (("export", "--trainee", str(uuid.uuid4())), "no trainee"),
        (("verify-bundle", str(tmp_path / "missing.json")), "cannot read bundle"),
        (("verify-bundle", str(tmp_path / "missing.json"), "--public-key", "xyz"),
         "cannot read bundle"),
        (("verify", "--since", str(tmp_path / "missing.json")), "cannot read checkpoint"),
    ]:
        result = dualtrack(*args, env=env)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert says in result.stderr and "Traceback" not in result.stderr
