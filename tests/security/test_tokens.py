"""Bearer tokens: the worker's callback receiver refuses callers without the platform's token, and
no process of the stack ever writes the token to its log.

This module runs after the other end-to-end and security tests of the session (file order), so the
logs it searches hold everything those tests made the stack do: procedures of every kind,
callbacks, refusals, retries.
"""

from pathlib import Path

import httpx
import pytest

from pbxops.runtime.callback_auth import CallbackSigner
from tests.stack import ADMIN_TOKEN, CALLBACK_SECRET, TOKEN, Stack

pytestmark = pytest.mark.e2e

BODIES = {
    "platform": {
        "job_id": "job-x",
        "kind": "deactivation",
        "tenant_id": "x",
        "state": "deactivated",
    },
    "mobile": {
        "device_id": "md-x",
        "seq": 1,
        "kind": "activated",
        "status": "online",
        "at": "2026-01-01T00:00:00Z",
    },
}


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_the_callback_receiver_refuses_a_missing_or_wrong_token(stack: Stack, kind: str):
    # Signed as the worker signs a job's URL, so only the token is wrong below.
    signer = CallbackSigner(CALLBACK_SECRET.encode())
    url = signer.url(f"http://127.0.0.1:{stack.callback_port}", kind, "nobody/sec-token", "job")
    body = BODIES[kind]

    missing = httpx.post(url, json=body)
    wrong = httpx.post(url, json=body, headers={"Authorization": f"Bearer {TOKEN}x"})
    not_bearer = httpx.post(url, json=body, headers={"Authorization": TOKEN})
    right = httpx.post(url, json=body, headers={"Authorization": f"Bearer {TOKEN}"})

    for refused in (missing, wrong, not_bearer):
        assert refused.status_code == 401, refused.text
        assert refused.json() == {"detail": "missing or invalid bearer token"}
    # With the token the receiver goes on to Temporal, which knows no such workflow: 410, so the
    # 401s above were about the token and nothing else.
    assert right.status_code == 410, right.text


def test_the_simulator_refuses_the_worker_s_calls_without_the_token(stack: Stack):
    refused = httpx.get(f"{stack.platform_url}/pbx/tenants")
    assert refused.status_code == 401
    assert (
        httpx.get(
            f"{stack.platform_url}/pbx/tenants", headers={"Authorization": "Bearer nope"}
        ).status_code
        == 401
    )


def test_no_process_logs_the_platform_token(stack: Stack):
    logs = sorted(Path(stack.workdir).rglob("*.log"))
    names = {path.name for path in logs}
    assert {"worker.log", "simulator.log", "temporal.log"} <= names
    assert all(path.stat().st_size > 0 for path in logs if path.name != "temporal.log")
    leaking = [str(path) for path in logs if TOKEN in path.read_text(errors="replace")]
    assert leaking == []


def test_no_process_logs_the_admin_token_the_callback_secret_or_a_callback_credential(
    stack: Stack,
):
    logs = {path: path.read_text(errors="replace") for path in Path(stack.workdir).rglob("*.log")}
    assert any("callback delivered" in text for text in logs.values())  # there were callbacks
    for secret in (ADMIN_TOKEN, CALLBACK_SECRET, "sig="):
        assert [str(path) for path, text in logs.items() if secret in text] == [], secret
