"""`dualtrack token` and `dualtrack serve`'s refusal to run without a key, as a user runs them."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from service.principals import Role
from service.settings import Settings
from service.tokens import token_verifier
from tests.test_cli import REPO, _env, dualtrack, free_port

SECRET = "cli-test-secret-" + "0123456789abcdef" * 2


def test_a_minted_token_is_accepted_by_the_same_configuration(tmp_path: Path) -> None:
    env = {"DUALTRACK_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
           "DUALTRACK_TOKEN_SECRET": SECRET, "DUALTRACK_TOKEN_ISSUER": "hospital-idp"}
    result = dualtrack("token", "--role", "registry", "--role", "base_admin", "--subject",
                       "registry-1", "--base", "base-1", "--scope", "personal_data",
                       "--ttl", "15m", env=env)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    principal = token_verifier(Settings.from_env(env)).verify(token)
    assert principal.subject == "registry-1"
    assert principal.roles == frozenset({Role.REGISTRY, Role.BASE_ADMIN})
    assert (principal.base_id, principal.scopes) == ("base-1", frozenset({"personal_data"}))
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 15 * 60


def test_an_es256_token_is_signed_with_the_private_key_file(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = tmp_path / "issuer.pem", tmp_path / "issuer.pub.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    env = {"DUALTRACK_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
           "DUALTRACK_TOKEN_PUBLIC_KEY_FILE": str(public),
           "DUALTRACK_TOKEN_PRIVATE_KEY_FILE": str(private)}
    result = dualtrack("token", "--role", "school_admin", "--subject", "dean",
                       "--university", "Peking University", env=env)
    assert result.returncode == 0, result.stderr
    assert jwt.get_unverified_header(result.stdout.strip())["alg"] == "ES256"
    principal = token_verifier(Settings.from_env(env)).verify(result.stdout.strip())
    assert principal.university == "Peking University"


@pytest.mark.parametrize(("args", "says"), [
    (["--role", "registry", "--subject", "r"], "must name its base"),
    (["--role", "trainee", "--subject", "li", "--ttl", "31d"], "at most 30d"),
    (["--role", "trainee", "--subject", "li", "--ttl", "an hour"], "--ttl must be a number"),
])
def test_a_token_the_service_would_refuse_is_never_minted(
        tmp_path: Path, args: list[str], says: str) -> None:
    result = dualtrack("token", *args, env={
        "DUALTRACK_DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "DUALTRACK_TOKEN_SECRET": SECRET})
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], result.stderr


def test_serve_without_a_key_refuses_to_start(tmp_path: Path) -> None:
    result = dualtrack("serve", "--port", str(free_port()), timeout=30,
                       env={"DUALTRACK_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "dualtrack: error: no token key is configured: serving needs DUALTRACK_TOKEN_SECRET, "
        "DUALTRACK_TOKEN_PUBLIC_KEY_FILE or DUALTRACK_TOKEN_JWKS_FILE "
        "(or DUALTRACK_DEV_MODE=1 for development)"]
    assert not (tmp_path / "x.db").exists() or (tmp_path / "x.db").stat().st_size == 0


def test_serve_in_development_mode_says_so_loudly(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", "--port", str(free_port())],
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=output,
            env=_env({"DUALTRACK_DEV_MODE": "1", "PYTHONPATH": str(REPO)}),
        )
    try:
        deadline = time.monotonic() + 30
        while "serving" not in log.read_text() and time.monotonic() < deadline:
            assert server.poll() is None, log.read_text()
            time.sleep(0.1)
        warnings = [line for line in log.read_text().splitlines() if "WARNING:" in line]
        assert len(warnings) >= 5, log.read_text()
        assert "DEVELOPMENT MODE (DUALTRACK_DEV_MODE=1)" in "\n".join(warnings)
        assert (tmp_path / "var" / "dev-token.secret").exists()
    finally:
        server.terminate()
        server.wait(timeout=20)
