"""The one exception integrity checks raise."""

from __future__ import annotations


class IntegrityFailure(Exception):
    """Evidence did not check out: a bad signature, a malformed checkpoint, a broken chain.

    The message is a one-line reason meant for a person reading a report.
    """
