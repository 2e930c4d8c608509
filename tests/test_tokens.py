"""Bearer tokens checked against real keys: HS256, RS256, ES256 and a JWKS file, and every
way a token or a configuration can be wrong."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from service.principals import Principal, Role, Unauthenticated
from service.settings import ConfigurationError, Settings
from service.tokens import (
    claims_for,
    is_dev_key,
    mint,
    token_verifier,
)

SECRET = "hs256-test-secret-" + "0123456789abcdef" * 2
BASE = Settings(database_url="sqlite://", token_secret=SECRET)


def mint_unchecked(settings: Settings, **claims: Any) -> str:
    """Signs claims as they are, even those `mint` refuses, to see the verifier refuse them."""
    return jwt.encode(claims_for(settings, **claims), SECRET, algorithm="HS256")


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def pem_files(tmp_path: Path, private: Any, name: str) -> tuple[str, str]:
    public_file, private_file = tmp_path / f"{name}.pub.pem", tmp_path / f"{name}.pem"
    public_file.write_bytes(public_pem(private))
    private_file.write_bytes(private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return str(public_file), str(private_file)


def public_pem(private: Any) -> bytes:
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def jwk(private: Any, kid: str) -> dict[str, Any]:
    algorithm = jwt.algorithms.RSAAlgorithm if isinstance(private, rsa.RSAPrivateKey) else (
        jwt.algorithms.ECAlgorithm)
    return {**algorithm.to_jwk(private.public_key(), as_dict=True), "kid": kid, "use": "sig"}


def jwks_settings(tmp_path: Path, keys: list[dict[str, Any]], private: Any = None) -> Settings:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": keys}))
    private_file = None if private is None else pem_files(tmp_path, private, "signer")[1]
    return replace(BASE, token_secret=None, token_jwks_file=str(jwks),
                   token_private_key_file=private_file)


def forged(header: dict[str, Any], settings: Settings, key: bytes | None, **claims: Any) -> str:
    """A token assembled by hand, as an attacker would, signed with HMAC-SHA256 if keyed."""
    payload = claims_for(settings, **claims)
    payload.update(iat=int(payload["iat"].timestamp()), exp=int(payload["exp"].timestamp()))
    signing_input = b".".join(_b64(json.dumps(part).encode()) for part in (header, payload))
    signature = b"" if key is None else hmac.new(key, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + _b64(signature)).decode()


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def test_an_hs256_token_round_trips_to_its_principal() -> None:
    token = mint(BASE, roles=["base_admin", "registry"], subject="zhang.wei", base_id="base-1",
                 scopes=["personal_data"])
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert token_verifier(BASE).verify(token) == Principal(
        subject="zhang.wei", roles=frozenset({Role.BASE_ADMIN, Role.REGISTRY}),
        base_id="base-1", scopes=frozenset({"personal_data"}))


@pytest.mark.parametrize(("key", "algorithm"), [("rsa_key", "RS256"), ("ec_key", "ES256")])
def test_a_public_key_file_verifies_tokens_of_its_own_algorithm(
        request: pytest.FixtureRequest, tmp_path: Path, key: str, algorithm: str) -> None:
    public_file, private_file = pem_files(tmp_path, request.getfixturevalue(key), "issuer")
    settings = replace(BASE, token_secret=None, token_public_key_file=public_file,
                       token_private_key_file=private_file)
    token = mint(settings, roles=["school_admin"], subject="dean", university="PKU")
    assert jwt.get_unverified_header(token)["alg"] == algorithm
    principal = token_verifier(settings).verify(token)
    assert (principal.subject, principal.roles, principal.university) == (
        "dean", frozenset({Role.SCHOOL_ADMIN}), "PKU")


def test_a_jwks_file_picks_the_key_the_token_names(
        tmp_path: Path, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> None:
    keys = [jwk(rsa_key, "rsa-2026"), jwk(ec_key, "ec-2026")]
    for private, kid, algorithm in ((rsa_key, "rsa-2026", "RS256"), (ec_key, "ec-2026", "ES256")):
        settings = jwks_settings(tmp_path, keys, private)
        token = mint(settings, roles=["auditor"], subject="audit-office")
        assert jwt.get_unverified_header(token) | {"typ": "JWT"} == {
            "alg": algorithm, "kid": kid, "typ": "JWT"}
        assert token_verifier(settings).verify(token).roles == frozenset({Role.AUDITOR})


def test_a_jwks_token_must_name_a_known_key_and_be_signed_by_it(
        tmp_path: Path, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> None:
    settings = jwks_settings(tmp_path, [jwk(rsa_key, "a"), jwk(ec_key, "b")])
    verifier = token_verifier(settings)
    payload = claims_for(settings, roles=["trainee"], subject="li")
    cases = {
        "does not name its key": jwt.encode(payload, rsa_key, algorithm="RS256"),
        "does not know": jwt.encode(payload, rsa_key, algorithm="RS256", headers={"kid": "c"}),
        # RSA-signed, but naming the EC key: the EC key admits ES256 only.
        "not valid": jwt.encode(payload, rsa_key, algorithm="RS256", headers={"kid": "b"}),
    }
    for says, token in cases.items():
        with pytest.raises(Unauthenticated, match=says):
            verifier.verify(token)


def test_an_expired_token_is_refused_as_expired() -> None:
    token = mint(BASE, roles=["trainee"], subject="li", ttl=timedelta(hours=1),
                 now=datetime.now(UTC) - timedelta(hours=2))
    with pytest.raises(Unauthenticated, match="expired"):
        token_verifier(BASE).verify(token)


def test_a_token_remembered_as_verified_is_refused_once_it_expires() -> None:
    # Expired 28.5 s ago: valid for 1.5 s more within the 30 s leeway, then not.
    token = mint(BASE, roles=["trainee"], subject="li", ttl=timedelta(seconds=1),
                 now=datetime.now(UTC) - timedelta(seconds=29.5))
    verifier = token_verifier(BASE)
    assert verifier.verify(token).subject == "li"
    assert verifier.verify(token).subject == "li"  # from memory
    time.sleep(2.0)
    with pytest.raises(Unauthenticated, match="expired"):
        verifier.verify(token)


@pytest.mark.parametrize("other", [
    {"token_issuer": "another-idp"},
    {"token_audience": "another-service"},
    {"token_secret": "another-secret-" + "fedcba9876543210" * 2},
])
def test_a_token_of_another_issuer_audience_or_key_is_refused(other: dict[str, str]) -> None:
    token = mint(replace(BASE, **other), roles=["trainee"], subject="li")
    with pytest.raises(Unauthenticated, match="not valid"):
        token_verifier(BASE).verify(token)


def test_an_unsigned_token_is_refused() -> None:
    # The forger is sound: keyed with the real secret, its token passes.
    honest = forged({"alg": "HS256", "typ": "JWT"}, BASE, SECRET.encode(),
                    roles=["trainee"], subject="li")
    assert token_verifier(BASE).verify(honest).subject == "li"
    token = forged({"alg": "none", "typ": "JWT"}, BASE, None, roles=["trainee"], subject="li")
    with pytest.raises(Unauthenticated, match="not valid"):
        token_verifier(BASE).verify(token)


def test_the_public_key_as_an_hs256_secret_is_refused(
        tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    """Algorithm confusion: the public key is public, so it must never work as a secret."""
    public_file, _ = pem_files(tmp_path, rsa_key, "issuer")
    settings = replace(BASE, token_secret=None, token_public_key_file=public_file)
    token = forged({"alg": "HS256", "typ": "JWT"}, settings, public_pem(rsa_key),
                   roles=["auditor"], subject="mallory")
    with pytest.raises(Unauthenticated, match="not valid"):
        token_verifier(settings).verify(token)


@pytest.mark.parametrize(("claims", "says"), [
    ({"roles": ["dean"]}, "role other than"),
    ({"roles": ["registry"]}, "must name its base"),
    ({"roles": ["school_admin"]}, "must name its university"),
])
def test_claims_the_service_cannot_honour_are_refused(claims: dict[str, Any], says: str) -> None:
    with pytest.raises(Unauthenticated, match=says):
        token_verifier(BASE).verify(mint_unchecked(BASE, subject="x", **claims))
    with pytest.raises(Unauthenticated, match=says):
        mint(BASE, subject="x", **claims)  # never handed out in the first place


@pytest.mark.parametrize("secret", ["too-short", "changeme" * 4, "secret" * 6])
def test_a_short_or_placeholder_secret_is_refused(secret: str) -> None:
    with pytest.raises(ConfigurationError, match="DUALTRACK_TOKEN_SECRET"):
        token_verifier(replace(BASE, token_secret=secret))


def test_more_than_one_key_is_ambiguous(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    public_file, _ = pem_files(tmp_path, rsa_key, "issuer")
    with pytest.raises(ConfigurationError, match="PUBLIC_KEY_FILE and DUALTRACK_TOKEN_SECRET"):
        token_verifier(replace(BASE, token_public_key_file=public_file))


def test_no_key_outside_development_mode_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="DUALTRACK_DEV_MODE=1 for development"):
        token_verifier(replace(BASE, token_secret=None))


@pytest.mark.parametrize("key", [
    ed25519.Ed25519PrivateKey.generate(),
    ec.generate_private_key(ec.SECP384R1()),
    rsa.generate_private_key(public_exponent=65537, key_size=1024),
])
def test_a_public_key_other_than_rsa_or_p256_is_refused(tmp_path: Path, key: Any) -> None:
    public_file, _ = pem_files(tmp_path, key, "odd")
    with pytest.raises(ConfigurationError, match="DUALTRACK_TOKEN_PUBLIC_KEY_FILE"):
        token_verifier(replace(BASE, token_secret=None, token_public_key_file=public_file))


def test_a_jwks_file_with_a_shared_secret_is_refused(tmp_path: Path) -> None:
    oct_key = {"kty": "oct", "kid": "h", "k": _b64(SECRET.encode()).decode()}
    with pytest.raises(ConfigurationError, match="RSA key .RS256. or an EC P-256 key"):
        token_verifier(jwks_settings(tmp_path, [oct_key]))


def test_minting_asymmetric_tokens_needs_the_matching_private_key(
        tmp_path: Path, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey) -> None:
    public_file, _ = pem_files(tmp_path, rsa_key, "issuer")
    _, other_private = pem_files(tmp_path, ec_key, "other")
    settings = replace(BASE, token_secret=None, token_public_key_file=public_file)
    with pytest.raises(ConfigurationError, match="needs DUALTRACK_TOKEN_PRIVATE_KEY_FILE"):
        mint(settings, roles=["trainee"], subject="li")
    with pytest.raises(ConfigurationError, match="does not belong"):
        mint(replace(settings, token_private_key_file=other_private),
             roles=["trainee"], subject="li")
    with pytest.raises(ConfigurationError, match="belongs to no key"):
        mint(jwks_settings(tmp_path, [jwk(rsa_key, "a")], ec_key), roles=["trainee"], subject="li")


def test_development_mode_makes_a_private_secret_once_and_keeps_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    dev = replace(BASE, token_secret=None, dev_mode=True)
    assert is_dev_key(dev) and not is_dev_key(replace(dev, token_secret=SECRET))
    token = mint(dev, roles=["tutor"], subject="wang")
    secret_file = tmp_path / "var" / "dev-token.secret"
    made = secret_file.read_text()
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert token_verifier(dev).verify(token).subject == "wang"
    assert secret_file.read_text() == made
    assert not [p.name for p in secret_file.parent.iterdir() if p != secret_file]
