"""The README's webhook example and receiver snippet are true, and bad webhook settings
stop the worker with one line."""

from __future__ import annotations

import re
import types
from pathlib import Path

import pytest

from service.webhooks import signing
from tests.test_cli import dualtrack

README = Path(__file__).resolve().parents[2] / "README.md"


def webhooks_section() -> str:
    text = README.read_text("utf-8")
    section = text.split("\n### Webhooks\n", 1)[1]
    return re.split(r"\n##+ ", section, maxsplit=1)[0]


def test_the_readme_snippet_verifies_the_readme_example_and_refuses_a_forgery() -> None:
    section = webhooks_section()
    [snippet] = re.findall(r"```python\n(.*?)```", section, re.S)
    [example] = re.findall(r"```http\n(.*?)```", section, re.S)
    secret = re.search(r"secret of this\s+example is `(whsec_[^`]+)`", section)
    assert secret is not None
    head, body = example.split("\n\n", 1)
    headers = dict(line.split(": ", 1) for line in head.splitlines()[1:])
    raw = body.strip().encode()
    assert headers["content-type"] == "application/cloudevents+json"
    # The example is what the service itself would sign.
    assert signing.sign(secret[1], headers["webhook-id"], headers["webhook-timestamp"],
                        raw) == headers["webhook-signature"]

    namespace: dict[str, object] = {}
    exec(compile(snippet, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    sent = int(headers["webhook-timestamp"])
    namespace["time"] = types.SimpleNamespace(time=lambda: sent + 60)
    verify = namespace["verify"]
    assert verify(secret[1], headers, raw) == headers["webhook-id"]  # type: ignore[operator]
    with pytest.raises(ValueError, match="bad signature"):
        verify(secret[1], headers, raw.replace(b"110000", b"110001"))  # type: ignore[operator]
    namespace["time"] = types.SimpleNamespace(time=lambda: sent + 301)
    with pytest.raises(ValueError, match="too old"):
        verify(secret[1], headers, raw)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("DUALTRACK_WEBHOOK_TIMEOUT_SECONDS", "soon", "must be a number, got 'soon'"),
        ("DUALTRACK_WEBHOOK_RETRY_HOURS", "0", "must be a positive number, got '0'"),
        ("DUALTRACK_WEBHOOK_ALLOW_HTTP", "perhaps", "must be true or false, got 'perhaps'"),
        ("DUALTRACK_WEBHOOK_CONCURRENCY", "0", "must be at least 1, got 0"),
    ],
)
def test_bad_webhook_settings_stop_the_worker_with_one_line(
    variable: str, value: str, says: str, tmp_path: Path
) -> None:
    result = dualtrack("deliver", env={"DUALTRACK_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
                                       variable: value})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"dualtrack: error: {variable} {says}"]
