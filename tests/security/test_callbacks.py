"""Forged and hostile callbacks against the real worker's receiver (issue 16.2 and 16.6).

The attacker is an operator: they hold ``PBXOPS_PLATFORM_TOKEN`` (every CLI does) and can guess
a workflow id, but not ``PBXOPS_CALLBACK_SECRET``. Some tests go further and sign with the
secret (a leaked callback URL, a platform bug): even then a callback only wakes the procedure,
and the platform's own state decides. The session stack is real: dev server, simulator (whose
signed callbacks end every other e2e procedure), worker and CLI.
"""

import asyncio
import json
import re
import socket
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from pbxops.contracts.pbx import PLATFORM_EVENT_SIGNAL
from pbxops.runtime.callback_auth import CallbackSigner
from tests.processes import wait_until
from tests.stack import CALLBACK_SECRET, TOKEN, Stack

pytestmark = pytest.mark.e2e

AUTH = {"Authorization": f"Bearer {TOKEN}"}
SIGNER = CallbackSigner(CALLBACK_SECRET.encode())


def receiver(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.callback_port}"


def signed(stack: Stack, kind: str, workflow_id: str, ref: str = "leaked-ref") -> str:
    """A URL with a valid credential, as if the job's URL had leaked."""
    return SIGNER.url(receiver(stack), kind, workflow_id, ref)


def status(stack: Stack, workflow_id: str) -> dict[str, Any]:
    shown = stack.cli("status", workflow_id, "--json")
    assert shown.code == 0, shown.stderr
    result: dict[str, Any] = json.loads(shown.stdout)
    return result


def history(stack: Stack, workflow_id: str) -> list[Any]:
    async def fetch() -> list[Any]:
        client = await Client.connect(stack.temporal_address)
        return list((await client.get_workflow_handle(workflow_id).fetch_history()).events)

    return asyncio.run(fetch())


def signals(stack: Stack, workflow_id: str) -> list[str]:
    return [
        e.workflow_execution_signaled_event_attributes.signal_name
        for e in history(stack, workflow_id)
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
    ]


def completed_activities(stack: Stack, workflow_id: str) -> list[str]:
    events = history(stack, workflow_id)
    scheduled = {
        e.event_id: e.activity_task_scheduled_event_attributes.activity_id
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }
    return [
        scheduled[e.activity_task_completed_event_attributes.scheduled_event_id]
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
    ]


def stuck_deactivation(stack: Stack, tenant: str) -> tuple[str, str]:
    """A deactivation the platform never finishes by itself: (workflow id, platform job id)."""
    stack.put_tenant(tenant, deactivation_seconds=None)
    started = stack.cli("deactivate", "--tenant", tenant, "--json")
    assert started.code == 0, started.stderr
    workflow_id = json.loads(started.stdout)["workflow_id"]
    wait_until(
        lambda: status(stack, workflow_id)["status"]["step"] == "waiting-for-platform",
        30,
        "the deactivation waiting for the platform",
    )
    waiting = status(stack, workflow_id)["status"]
    job = re.search(r"Platform job `(job-[0-9a-f]+)`", waiting["step_detail"])
    assert job, waiting["step_detail"]
    return workflow_id, job.group(1)


def deactivated(tenant: str, job_id: str) -> dict[str, str]:
    """The issue's forged body."""
    return {"job_id": job_id, "kind": "deactivation", "tenant_id": tenant, "state": "deactivated"}


def test_the_platform_token_alone_cannot_end_a_deactivation(stack: Stack):
    """The finding: one POST with the operator's token ended the deactivation as
    VerificationFailed while the platform still showed `deactivating`."""
    tenant = "sec-cb-forged"
    workflow_id, job_id = stuck_deactivation(stack, tenant)

    for url in (
        f"{receiver(stack)}/callbacks/platform/pbx-deactivation%2F{tenant}",
        f"{receiver(stack)}/callbacks/platform/pbx-deactivation%2F{tenant}?ref=x&sig=guess",
        # A credential of another workflow does not transfer.
        f"{receiver(stack)}/callbacks/platform/pbx-deactivation%2F{tenant}?"
        + signed(stack, "platform", "pbx-deactivation/someone-else").split("?", 1)[1],
    ):
        answer = httpx.post(url, json=deactivated(tenant, job_id), headers=AUTH)
        assert answer.status_code == 403, (url, answer.text)
        assert answer.json() == {"detail": "missing or invalid callback credential"}

    assert signals(stack, workflow_id) == []
    shown = status(stack, workflow_id)
    assert shown["execution"] == "running" and shown["status"]["step"] == "waiting-for-platform"


def test_a_signed_callback_the_platform_contradicts_only_wakes_the_procedure(stack: Stack):
    """Even with a valid credential, `deactivated` while the platform shows `deactivating` is
    ignored after the platform's read; the real end still completes the procedure."""
    tenant = "sec-cb-hint"
    workflow_id, job_id = stuck_deactivation(stack, tenant)

    answer = httpx.post(
        signed(stack, "platform", workflow_id), json=deactivated(tenant, job_id), headers=AUTH
    )
    assert answer.status_code == 202, answer.text
    wait_until(
        lambda: "verify" in completed_activities(stack, workflow_id), 30, "the platform's read"
    )
    shown = status(stack, workflow_id)
    assert shown["execution"] == "running", shown
    assert shown["status"]["step"] == "waiting-for-platform"
    assert "ignored, still waiting" in shown["status"]["step_detail"]

    with stack.api() as api:
        api.post(f"/admin/tenants/{tenant}/complete-jobs").raise_for_status()
    wait_until(lambda: status(stack, workflow_id)["execution"] == "completed", 30, "the real end")
    assert completed_activities(stack, workflow_id).count("verify-2") == 1


def test_repeated_callbacks_are_signalled_once(stack: Stack):
    tenant = "sec-cb-repeat"
    workflow_id, job_id = stuck_deactivation(stack, tenant)
    url = signed(stack, "platform", workflow_id)
    body = deactivated(tenant, job_id)

    answers = [httpx.post(url, json=body, headers=AUTH) for _ in range(5)]

    assert [a.status_code for a in answers] == [202, 200, 200, 200, 200], answers
    assert answers[1].json() == {"status": "duplicate"}
    assert signals(stack, workflow_id) == [PLATFORM_EVENT_SIGNAL]


def test_a_callback_of_the_wrong_kind_is_refused(stack: Stack):
    tenant = "sec-cb-kind"
    workflow_id, _ = stuck_deactivation(stack, tenant)
    phone_event = {
        "device_id": "md-x",
        "seq": 1,
        "kind": "activated",
        "status": "online",
        "at": "2026-01-01T00:00:00Z",
    }

    answer = httpx.post(signed(stack, "mobile", workflow_id), json=phone_event, headers=AUTH)

    assert answer.status_code == 409, answer.text
    assert signals(stack, workflow_id) == []


def test_the_workflow_id_is_decoded_once(stack: Stack):
    """`%252F` is a literal `%2F` in the id, never a `/`: it must not reach
    `pbx-deactivation/<tenant>`."""
    tenant = "sec-cb-decode"
    workflow_id, job_id = stuck_deactivation(stack, tenant)
    literal = f"pbx-deactivation%2F{tenant}"  # what a single decoding of the URL below gives
    url = signed(stack, "platform", literal)
    assert f"/pbx-deactivation%252F{tenant}?" in url

    answer = httpx.post(url, json=deactivated(tenant, job_id), headers=AUTH)

    assert answer.status_code == 410, answer.text  # no workflow has that literal id
    assert signals(stack, workflow_id) == []


@pytest.mark.parametrize("authorization", ["bearer {token}", "BEARER {token}", "Bearer  {token}"])
def test_the_bearer_scheme_is_case_insensitive(stack: Stack, authorization: str):
    url = signed(stack, "platform", "pbx-deactivation/sec-cb-nobody")
    headers = {"Authorization": authorization.format(token=TOKEN)}

    answer = httpx.post(url, json=deactivated("sec-cb-nobody", "job-1"), headers=headers)

    assert answer.status_code == 410, answer.text  # past the token: no such workflow


def test_the_token_is_checked_before_anything_about_the_url(stack: Stack):
    for path in ("/callbacks/fax/wf", "/callbacks/platform/wf", "/callbacks/x/y/z"):
        answer = httpx.post(f"{receiver(stack)}{path}", json={})
        assert answer.status_code == 401, (path, answer.text)


def test_a_callback_must_be_json(stack: Stack):
    url = signed(stack, "platform", "pbx-deactivation/sec-cb-nobody")
    body = json.dumps(deactivated("sec-cb-nobody", "job-1"))
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {**AUTH, **({"Content-Type": content_type} if content_type else {})}
        answer = httpx.post(url, content=body, headers=headers)
        assert answer.status_code == 415, (content_type, answer.text)
    charset = {**AUTH, "Content-Type": "Application/JSON; charset=utf-8"}
    assert httpx.post(url, content=body, headers=charset).status_code == 410


def _raw_post(stack: Stack, head: str, body_chunks: list[bytes]) -> bytes:
    """Send a request's head and part of a body that never ends; return what the receiver
    answers within 10 s (b"" if it is still waiting for the rest of the body)."""
    with socket.create_connection(("127.0.0.1", stack.callback_port), timeout=10) as sock:
        sock.sendall(head.encode())
        for chunk in body_chunks:
            sock.sendall(chunk)
        sock.settimeout(10)
        try:
            return sock.recv(4096)
        except TimeoutError:
            return b""


def _head(stack: Stack, extra: str) -> str:
    path = signed(stack, "platform", "pbx-deactivation/sec-cb-big").removeprefix(receiver(stack))
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Type: application/json\r\n{extra}\r\n"
    )


def test_a_20_mb_body_is_refused_before_it_is_sent(stack: Stack):
    answer = _raw_post(stack, _head(stack, f"Content-Length: {20 * 1024 * 1024}\r\n"), [])
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_a_chunked_body_is_refused_once_past_the_cap(stack: Stack):
    chunk = b"x" * (32 * 1024)
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    answer = _raw_post(stack, _head(stack, "Transfer-Encoding: chunked\r\n"), [framed] * 3)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_an_event_too_large_for_history_is_refused(stack: Stack):
    """Under the body cap, but a Signal payload of ~60 KB (27 of ~1.9 MB grew one history to
    52 MB and the server terminated the workflow)."""
    tenant = "sec-cb-large"
    workflow_id, _ = stuck_deactivation(stack, tenant)
    answer = httpx.post(
        signed(stack, "platform", workflow_id),
        json=deactivated(tenant, "job-" + "9" * 60_000),
        headers=AUTH,
    )
    assert answer.status_code == 422, answer.text
    assert signals(stack, workflow_id) == []


def _mobile_line(stack: Stack, tenant: str) -> str:
    stack.put_tenant(tenant)
    with stack.api() as api:
        body = {"licences_total": 1, "smdp_address": "smdp.sec.example"}
        api.put(f"/admin/tenants/{tenant}/mobile", json=body).raise_for_status()
    started = stack.cli(
        "mobile", "provision", "--tenant", tenant, "--user", f"{tenant}-u1", "--json"
    )
    assert started.code == 0, started.stderr
    device_id: str = json.loads(started.stdout)["device_id"]
    return device_id


def _line(stack: Stack, device_id: str) -> dict[str, Any]:
    shown = stack.cli("mobile", "status", "--device", device_id, "--json")
    assert shown.code == 0, shown.stderr
    result: dict[str, Any] = json.loads(shown.stdout)["status"]
    return result


def test_a_phone_event_with_an_impossible_sequence_number_is_ignored(stack: Stack):
    """The finding: seq 999999999 marked the line online, cancelled its 90-day expiry and
    made the workflow ignore every genuine event after it."""
    tenant = "sec-cb-seq"
    device_id = _mobile_line(stack, tenant)
    workflow_id = f"mobile-line/{device_id}"
    wait_until(lambda: _line(stack, device_id)["code"], 30, "the first code")
    forged = {
        "device_id": device_id,
        "seq": 999_999_999,
        "kind": "activated",
        "status": "online",
        "at": datetime.now(UTC).isoformat(),
    }
    platform_kind = {"job_id": "j", "kind": "deactivation", "tenant_id": tenant, "state": "active"}

    # A platform-kind callback does not reach a mobile line, even signed.
    wrong = httpx.post(signed(stack, "platform", workflow_id), json=platform_kind, headers=AUTH)
    assert wrong.status_code == 409, wrong.text
    answer = httpx.post(signed(stack, "mobile", workflow_id), json=forged, headers=AUTH)
    assert answer.status_code == 202, answer.text

    def settled() -> bool:
        # The line's read of the device (a local activity: a marker in history).
        read = any(
            e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
            and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
            for e in history(stack, workflow_id)
        )
        return read or _line(stack, device_id)["device_status"] != "pending_activation"

    wait_until(settled, 30, "the forged event handled")
    line = _line(stack, device_id)
    assert line["device_status"] == "pending_activation", line
    assert line["code"]["state"] == "current"  # the 90-day expiry still stands

    with stack.api() as api:
        path = f"/pbx/mobile/devices/{device_id}/activation-code"
        lpa = api.get(path, headers=AUTH).json()["activation_code"]
    assert stack.phone("activate", "--code", lpa).code == 0
    wait_until(
        lambda: _line(stack, device_id)["device_status"] == "online", 30, "the genuine event"
    )
    assert _line(stack, device_id)["code"]["state"] == "used"
