"""Bearer tokens: verifying the JWTs callers present, and minting them for development.

A token names its subject (`sub`, recorded as the actor of what it writes), its roles
(`roles`), the base (`base`) or university (`university`) they are bound to, and any
extra scope (`scope`, space-separated), with issuer, audience and expiry always checked.

Exactly one key verifies tokens: a JWKS file, a PEM public key or an HS256 secret (or, in
development mode only, a secret made under var/). The algorithms a token may use follow
from that key alone, never from the token, so no token can pick a weaker check.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from service.principals import Principal, Role, Unauthenticated
from service.settings import DEFAULT_DEV_TOKEN_SECRET_PATH, ConfigurationError, Settings

LEEWAY = timedelta(seconds=30)
MIN_SECRET_BYTES = 32
# "changeme" or "secret" repeated to length passes the byte count; random data never has
# this few distinct characters.
MIN_SECRET_DISTINCT_CHARACTERS = 10
MIN_RSA_BITS = 2048
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]

SECRET = "DUALTRACK_TOKEN_SECRET"
PUBLIC_KEY_FILE = "DUALTRACK_TOKEN_PUBLIC_KEY_FILE"
JWKS_FILE = "DUALTRACK_TOKEN_JWKS_FILE"
PRIVATE_KEY_FILE = "DUALTRACK_TOKEN_PRIVATE_KEY_FILE"


class TokenVerifier:
    def __init__(self, key: Any, algorithms: list[str], issuer: str, audience: str):
        self._key = key
        self._algorithms = algorithms
        self._issuer = issuer
        self._audience = audience
        self._verified = _VerifiedTokens()

    def verify(self, token: str) -> Principal:
        """The token's principal. A token verified before is taken from memory until it
        expires: checking a signature costs more than many a request's own work."""
        known = self._verified.get(token)
        if known is not None:
            return known
        principal, expires = self._decode(token)
        self._verified.put(token, principal, expires)
        return principal

    def _decode(self, token: str) -> tuple[Principal, float]:
        key, algorithms = self._key_for(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                issuer=self._issuer,
                audience=self._audience,
                leeway=LEEWAY,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired") from None
        except jwt.InvalidTokenError as error:
            raise Unauthenticated(f"the token is not valid: {error}") from None
        return principal_of(claims), float(claims["exp"]) + LEEWAY.total_seconds()

    def _key_for(self, token: str) -> tuple[Any, list[str]]:
        return self._key, self._algorithms


class _VerifiedTokens:
    """Principals of tokens already verified, each until its expiry; least recently used
    first out. Only valid tokens are kept, so a refused one is checked again every time."""

    MAX_TOKENS = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    def get(self, token: str) -> Principal | None:
        with self._lock:
            found = self._items.get(token)
            if found is None:
                return None
            if time.time() >= found[1]:
                del self._items[token]
                return None
            self._items.move_to_end(token)
            return found[0]

    def put(self, token: str, principal: Principal, expires: float) -> None:
        with self._lock:
            self._items[token] = (principal, expires)
            while len(self._items) > self.MAX_TOKENS:
                self._items.popitem(last=False)


class JWKSVerifier(TokenVerifier):
    """Picks the key by the token's `kid`; each key admits only its own algorithm."""

    def __init__(self, keys: dict[str, tuple[Any, str]], issuer: str, audience: str):
        super().__init__(None, [], issuer, audience)
        self._keys = keys

    def _key_for(self, token: str) -> tuple[Any, list[str]]:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError as error:
            raise Unauthenticated(f"the token is not valid: {error}") from None
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("the token does not name its key (kid)")
        if kid not in self._keys:
            raise Unauthenticated("the token names a key (kid) this service does not know")
        key, algorithm = self._keys[kid]
        return key, [algorithm]


def principal_of(claims: dict[str, Any]) -> Principal:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip() or len(subject) > 200:
        raise Unauthenticated("the token's subject (sub) must be a name of 1-200 characters")
    raw_roles = claims.get("roles")
    if not isinstance(raw_roles, list) or not raw_roles:
        raise Unauthenticated("the token names no roles")
    try:
        roles = frozenset(Role(role) for role in raw_roles)
    except ValueError:
        known = ", ".join(role.value for role in Role)
        raise Unauthenticated(f"the token names a role other than {known}") from None
    base_id = _optional_text(claims, "base")
    university = _optional_text(claims, "university")
    if roles & {Role.BASE_ADMIN, Role.REGISTRY} and base_id is None:
        raise Unauthenticated("a base_admin or registry token must name its base")
    if Role.SCHOOL_ADMIN in roles and university is None:
        raise Unauthenticated("a school_admin token must name its university")
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise Unauthenticated("the token's scope must be a space-separated string")
    return Principal(
        subject=subject.strip(),
        roles=roles,
        base_id=base_id,
        university=university,
        scopes=frozenset(scope.split()),
    )


def _optional_text(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise Unauthenticated(f"the token's {name} must be a name of 1-200 characters")
    return value.strip()


def claims_for(
    settings: Settings,
    *,
    roles: Iterable[str],
    subject: str,
    base_id: str | None = None,
    university: str | None = None,
    scopes: Iterable[str] = (),
    ttl: timedelta = timedelta(hours=1),
    now: datetime | None = None,
) -> dict[str, Any]:
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "sub": subject,
        "roles": list(roles),
        "iat": issued,
        "exp": issued + ttl,
    }
    if base_id is not None:
        claims["base"] = base_id
    if university is not None:
        claims["university"] = university
    if scopes:
        claims["scope"] = " ".join(scopes)
    return claims


def token_verifier(settings: Settings) -> TokenVerifier:
    """The verifier for the one configured key; ConfigurationError if there is none."""
    issuer, audience = settings.token_issuer, settings.token_audience
    source = _configured(settings)
    if source == JWKS_FILE:
        return JWKSVerifier(_jwks_keys(settings.token_jwks_file or ""), issuer, audience)
    if source == PUBLIC_KEY_FILE:
        key = _public_key(settings.token_public_key_file or "")
        return TokenVerifier(key, [_algorithm_of(key, PUBLIC_KEY_FILE)], issuer, audience)
    return TokenVerifier(_secret(settings), ["HS256"], issuer, audience)


def is_dev_key(settings: Settings) -> bool:
    """True when tokens are checked with the development secret (serve warns loudly)."""
    configured = settings.token_jwks_file or settings.token_public_key_file or settings.token_secret
    return settings.dev_mode and not configured


def mint(settings: Settings, **claims: Any) -> str:
    """A token signed with the configured key, so the service that shares it accepts it.

    Takes the arguments of `claims_for`. A public key or JWKS configuration signs with
    DUALTRACK_TOKEN_PRIVATE_KEY_FILE, which must belong to the key the service checks.
    Claims the service would refuse (say, a registry without its base) raise
    Unauthenticated here, so such a token is never handed out.
    """
    payload = claims_for(settings, **claims)
    principal_of(payload)
    source = _configured(settings)
    if source in (SECRET, None):
        if settings.token_private_key_file:
            raise ConfigurationError(
                f"{PRIVATE_KEY_FILE} signs RS256/ES256 tokens; it goes with "
                f"{PUBLIC_KEY_FILE} or {JWKS_FILE}, not with an HS256 secret"
            )
        return jwt.encode(payload, _secret(settings), algorithm="HS256")
    private = _private_key(settings)
    public = private.public_key()
    algorithm = _algorithm_of(public, PRIVATE_KEY_FILE)
    if source == PUBLIC_KEY_FILE:
        if not _same_key(public, _public_key(settings.token_public_key_file or "")):
            raise ConfigurationError(f"{PRIVATE_KEY_FILE} does not belong to {PUBLIC_KEY_FILE}")
        return jwt.encode(payload, private, algorithm=algorithm)
    keys = _jwks_keys(settings.token_jwks_file or "")
    kid = next((kid for kid, (key, _) in keys.items() if _same_key(key, public)), None)
    if kid is None:
        raise ConfigurationError(f"{PRIVATE_KEY_FILE} belongs to no key of {JWKS_FILE}")
    return jwt.encode(payload, private, algorithm=algorithm, headers={"kid": kid})


def check_secret(secret: str, name: str = SECRET) -> str:
    if (len(secret.encode()) < MIN_SECRET_BYTES
            or len(set(secret)) < MIN_SECRET_DISTINCT_CHARACTERS):
        raise ConfigurationError(
            f"{name} must be at least {MIN_SECRET_BYTES} bytes of random data, e.g. from "
            "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
        )
    return secret


def dev_secret(path: Path = DEFAULT_DEV_TOKEN_SECRET_PATH) -> str:
    """The development secret, made on first use, readable by its owner only."""
    if not path.exists():
        _create_secret_file(path)
    try:
        text = path.read_text("ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"cannot read the development token secret: {error}") from None
    return check_secret(text, name=str(path))


def _create_secret_file(path: Path) -> None:
    # Written aside and linked into place, so a `serve` and a `dualtrack token` starting
    # together never read a half-written file nor replace each other's secret.
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{os.getpid()}")
    aside.unlink(missing_ok=True)
    descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(secrets.token_urlsafe(48) + "\n")
        os.link(aside, path)
    except FileExistsError:
        pass
    finally:
        aside.unlink(missing_ok=True)


def _configured(settings: Settings) -> str | None:
    """Which variable names the key; None for the development secret."""
    named = [name for name, value in ((JWKS_FILE, settings.token_jwks_file),
                                      (PUBLIC_KEY_FILE, settings.token_public_key_file),
                                      (SECRET, settings.token_secret)) if value]
    if len(named) > 1:
        raise ConfigurationError(
            f"{' and '.join(named)} are both set; set exactly one, so which key checks "
            "tokens is never in doubt"
        )
    if named:
        return named[0]
    if settings.dev_mode:
        return None
    raise ConfigurationError(
        f"no token key is configured: serving needs {SECRET}, {PUBLIC_KEY_FILE} or "
        f"{JWKS_FILE} (or DUALTRACK_DEV_MODE=1 for development)"
    )


def _secret(settings: Settings) -> str:
    if settings.token_secret:
        return check_secret(settings.token_secret)
    return dev_secret()


def _algorithm_of(key: Any, name: str) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise ConfigurationError(
                f"{name}: the RSA key has {key.key_size} bits; at least {MIN_RSA_BITS} are needed"
            )
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise ConfigurationError(f"{name} must hold an RSA key (RS256) or an EC P-256 key (ES256)")


def _read(path: str, name: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ConfigurationError(f"cannot read {name}={path}: {error.strerror}") from None


def _public_key(path: str) -> Any:
    try:
        return serialization.load_pem_public_key(_read(path, PUBLIC_KEY_FILE))
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigurationError(f"{PUBLIC_KEY_FILE}={path} is not a PEM public key") from None


def _private_key(settings: Settings) -> Any:
    path = settings.token_private_key_file
    if not path:
        raise ConfigurationError(
            f"minting RS256/ES256 tokens needs {PRIVATE_KEY_FILE}, the private half of the "
            "configured key"
        )
    try:
        return serialization.load_pem_private_key(_read(path, PRIVATE_KEY_FILE), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigurationError(
            f"{PRIVATE_KEY_FILE}={path} is not an unencrypted PEM private key"
        ) from None


def _jwks_keys(path: str) -> dict[str, tuple[Any, str]]:
    """Each signing key of the set by its kid, with the one algorithm it may verify."""
    try:
        document = json.loads(_read(path, JWKS_FILE))
        key_set = jwt.PyJWKSet.from_dict(document)
    except (ValueError, AttributeError, jwt.PyJWTError):
        raise ConfigurationError(
            f"{JWKS_FILE}={path} is not a JWKS file (JSON with a \"keys\" list of usable keys)"
        ) from None
    keys: dict[str, tuple[Any, str]] = {}
    for jwk in key_set:
        if jwk.public_key_use not in (None, "sig"):
            continue  # encryption keys often share the set
        kid = jwk.key_id
        if not isinstance(kid, str) or not kid or kid in keys:
            raise ConfigurationError(f"{JWKS_FILE}: every signing key needs a kid of its own")
        key = jwk.key
        if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            key = key.public_key()
        algorithm = _algorithm_of(key, f"{JWKS_FILE} key {kid!r}")
        if jwk.algorithm_name != algorithm:
            raise ConfigurationError(
                f"{JWKS_FILE} key {kid!r} declares {jwk.algorithm_name}; only RS256 for RSA "
                "and ES256 for EC P-256 are accepted"
            )
        keys[kid] = (key, algorithm)
    if not keys:
        raise ConfigurationError(f"{JWKS_FILE}={path} holds no signing key")
    return keys


def _same_key(a: Any, b: Any) -> bool:
    def spki(key: Any) -> bytes:
        return key.public_bytes(serialization.Encoding.DER,
                                serialization.PublicFormat.SubjectPublicKeyInfo)

    return spki(a) == spki(b)
