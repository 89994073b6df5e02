"""Nothing in history lets a code be recovered, even by someone who knows every published default
(issue 16.1, docs/security.md "Someone who reads history or the UI").

A real deletion runs on the session stack, which is configured as `make up` is: dev mode, and no
PBXOPS_CODE_SECRET (the worker makes a random one in its dev vault). Its recorded history is then
attacked the way the issue did it, with each published default as the secret:

- open the sealed code in the ``codes.issue`` result (AES-GCM, key = SHA-256 of the fixed prefix
  and the secret, associated data = workflow/run id);
- test the code's HMAC: an 8-digit code brute-forces offline in minutes, so the attack succeeds
  iff the HMAC keyed by the default matches one of the 10^8 candidates; the test checks the one
  candidate that matters (the code from the mailbox) instead of enumerating them all;
- read or open the code in every accepted ``confirm`` Update.

Each must fail. The control: the same attack with the stack's real secret (from its dev vault)
succeeds, so the attack is the right one and only the key is missing.
"""

import asyncio
import base64
import hashlib
import hmac
import json
import re

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tests.security.evidence import UPDATE_ACCEPTED, collect
from tests.stack import TOKEN, Stack

pytestmark = pytest.mark.e2e

# Every code secret anyone could know: the value pbxops shipped as its default, the dev platform
# token, the tests' token, and placeholders people leave in.
PUBLISHED = [
    "pbxops-dev-code-secret-change-me",
    "pbxops-dev-token",
    TOKEN,
    "change-me",
    "changeme",
    "secret",
]


def opened(sealed: str, secret: str, context: str) -> str | None:
    """The issue's attack on the seal."""
    key = hashlib.sha256(b"pbxops/code-seal/" + secret.encode()).digest()
    raw = base64.urlsafe_b64decode(sealed.encode())
    try:
        return AESGCM(key).decrypt(raw[:12], raw[12:], context.encode()).decode()
    except InvalidTag:
        return None


def brute_forces(digest: str, secret: str, context: str, code: str) -> bool:
    """True iff enumerating the 10^8 codes with ``secret`` would find ``code``."""
    key = hashlib.sha256(b"pbxops/code-mac/" + secret.encode()).digest()
    mine = hmac.new(key, f"{context}\n{code}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(mine, digest)


def confirm_arguments(events: list[dict]) -> list[dict]:
    found = []
    for event in events:
        accepted = event.get(UPDATE_ACCEPTED)
        if accepted and accepted["acceptedRequest"]["input"]["name"] == "confirm":
            found.append(
                json.loads(accepted["acceptedRequest"]["input"]["args"]["payloads"][0]["data"])
            )
    return found


def issued_code(events: list[dict]) -> dict:
    scheduled = {
        e["eventId"]
        for e in events
        if e.get("activityTaskScheduledEventAttributes", {}).get("activityType", {}).get("name")
        == "codes.issue"
    }
    [result] = [
        e["activityTaskCompletedEventAttributes"]["result"]["payloads"][0]["data"]
        for e in events
        if e.get("activityTaskCompletedEventAttributes", {}).get("scheduledEventId") in scheduled
    ]
    return json.loads(result)


def test_history_alone_never_yields_the_code_even_with_the_defaults(stack: Stack):
    tenant = "sec-recover"
    stack.put_tenant(tenant)
    requested = stack.cli("delete", "--tenant", tenant, "--requested-by", "ops@provider.example")
    assert requested.code == 0, requested.stderr
    [email] = stack.mails_to(f"anna@{tenant}.example")
    code = re.search(r":\s+(\d{8})\s*$", email["Text"], re.MULTILINE).group(1)  # any language
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    assert stack.cli("delete", "confirm", "--tenant", tenant, "--code", wrong).code == 1

    evidence = asyncio.run(collect(stack, f"pbx-deletion/{tenant}"))
    [run] = {
        e["workflowExecutionStartedEventAttributes"]["originalExecutionRunId"]
        for e in evidence.events
        if "workflowExecutionStartedEventAttributes" in e
    }
    context = f"pbx-deletion/{tenant}/{run}"
    issued = issued_code(evidence.events)
    [attempt] = confirm_arguments(evidence.events)

    for secret in PUBLISHED:
        assert opened(issued["sealed"], secret, context) is None, f"the seal opens with {secret!r}"
        assert not brute_forces(issued["digest"], secret, context, code), secret
    assert attempt.get("code") in ("", None), "the wrong code is readable in history"
    assert wrong not in json.dumps(evidence.events)

    # The control: with the key the attack works, so only the key was missing.
    real = (stack.workdir / "secrets" / "pbxops_code_secret").read_text().strip()
    assert real not in PUBLISHED and len(real) >= 32
    assert opened(issued["sealed"], real, context) == code
    assert brute_forces(issued["digest"], real, context, code)
    assert stack.cli("delete", "cancel", "--tenant", tenant).code == 0
