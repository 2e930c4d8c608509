"""`dualtrack token`: mints a bearer token from the configuration `serve` verifies with.

For development and tests. Only the token is printed (on stdout), so
`TOKEN=$(dualtrack token --role trainee --subject li-lei)` works in a shell.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import timedelta
from typing import Any

from service.principals import TOKEN_ROLES, Unauthenticated
from service.settings import DEFAULT_DEV_TOKEN_SECRET_PATH, ConfigurationError, Settings
from service.tokens import TokenVerifier, is_dev_key, mint, token_verifier

TTL = re.compile(r"(\d{1,9})([smhd])")
TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_TTL = timedelta(days=30)

DEV_MODE_WARNING = f"""\
WARNING: ****************************************************************
WARNING: DEVELOPMENT MODE (DUALTRACK_DEV_MODE=1): no token key is configured.
WARNING: Tokens are checked with the development secret in {DEFAULT_DEV_TOKEN_SECRET_PATH};
WARNING: anyone who can read that file can act in any role.
WARNING: Never serve real trainees this way: configure DUALTRACK_TOKEN_SECRET,
WARNING: DUALTRACK_TOKEN_PUBLIC_KEY_FILE or DUALTRACK_TOKEN_JWKS_FILE instead.
WARNING: ****************************************************************"""


def token(args: argparse.Namespace) -> None:
    ttl = parse_ttl(args.ttl)
    settings = Settings.from_env()
    try:
        minted = mint(
            settings,
            roles=list(dict.fromkeys(args.roles)),
            subject=args.subject,
            base_id=args.base,
            university=args.university,
            scopes=args.scopes or (),
            ttl=ttl,
        )
    except Unauthenticated as error:
        raise ConfigurationError(f"the service would refuse this token: {error}") from None
    print(minted)


def serving_verifier(settings: Settings) -> TokenVerifier:
    """The verifier `serve` checks tokens with; refuses to serve without a key."""
    verifier = token_verifier(settings)
    if is_dev_key(settings):
        for line in DEV_MODE_WARNING.splitlines():
            _say(f"dualtrack: {line}")
    return verifier


def parse_ttl(raw: str) -> timedelta:
    match = TTL.fullmatch(raw.strip())
    if match is None:
        raise ConfigurationError(
            f"--ttl must be a number with s, m, h or d (30s, 15m, 1h, 7d), got {raw!r}"
        )
    ttl = timedelta(seconds=int(match[1]) * TTL_UNITS[match[2]])
    if not timedelta(0) < ttl <= MAX_TTL:
        raise ConfigurationError(f"--ttl must be more than nothing and at most 30d, got {raw!r}")
    return ttl


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "token", help="mint a bearer token from the configuration `serve` verifies with "
        "(development and tests); prints only the token")
    parser.add_argument("--role", dest="roles", action="append", required=True,
                        choices=TOKEN_ROLES, help="a role the token grants (repeatable)")
    parser.add_argument("--subject", required=True,
                        help="who the token names; recorded as the actor of what it writes")
    parser.add_argument("--base", help="the training base (needed by base_admin and registry)")
    parser.add_argument("--university", help="the university (needed by school_admin)")
    parser.add_argument("--scope", dest="scopes", action="append", metavar="SCOPE",
                        help="an extra scope, e.g. personal_data (repeatable)")
    parser.add_argument("--ttl", default="1h",
                        help="how long the token is valid: 30s, 15m, 1h, 7d (at most 30d)")
    parser.set_defaults(run=token)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
