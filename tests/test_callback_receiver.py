"""The worker's callback receiver in-process: which requests become Signals, and the answers."""

from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import pytest_asyncio
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from pbxops.contracts.mobile import DEVICE_EVENT_SIGNAL
from pbxops.contracts.pbx import PLATFORM_EVENT_SIGNAL
from pbxops.contracts.procedures import Procedure
from pbxops.runtime.callback_auth import CallbackSigner
from pbxops.runtime.callback_receiver import create_receiver

TOKEN = "receiver-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PLATFORM = {"job_id": "job-1", "tenant_id": "acme", "kind": "deactivation", "state": "deactivated"}
SIGNER = CallbackSigner(b"receiver-test-callback-secret")


def signed(kind: str, workflow_id: str, ref: str = "job-ref-1") -> str:
    """The path and query the worker would have given the platform for this job."""
    return SIGNER.url("", kind, workflow_id, ref)


class FakeClient:
    """Records the Signals; a workflow id starting with 'gone' is not running, one starting with
    'mobile-line/' is a MobileLine, any other a ServiceDeactivation."""

    def __init__(self) -> None:
        self.signals: list[tuple[str, str, Any]] = []

    def get_workflow_handle(self, workflow_id: str) -> "FakeClient.Handle":
        return FakeClient.Handle(self, workflow_id)

    class Handle:
        def __init__(self, client: "FakeClient", workflow_id: str) -> None:
            self.client, self.workflow_id = client, workflow_id

        async def describe(self) -> SimpleNamespace:
            if self.workflow_id.startswith("gone"):
                raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")
            mobile = self.workflow_id.startswith("mobile-line/")
            kind = Procedure.MOBILE_LINE if mobile else Procedure.DEACTIVATION
            return SimpleNamespace(status=WorkflowExecutionStatus.RUNNING, workflow_type=kind.value)

        async def signal(self, name: str, arg: Any) -> None:
            self.client.signals.append((self.workflow_id, name, arg))


@pytest_asyncio.fixture
async def receiver():
    client = FakeClient()
    app = create_receiver(client, TOKEN, SIGNER)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as http:
        yield http, client


async def test_a_platform_callback_becomes_one_signal_on_the_named_workflow(receiver):
    http, client = receiver
    answer = await http.post(
        signed("platform", "pbx-deactivation/acme"), json=PLATFORM, headers=AUTH
    )
    assert answer.status_code == 202 and answer.json() == {"status": "signalled"}
    [(workflow_id, name, event)] = client.signals
    assert workflow_id == "pbx-deactivation/acme" and name == PLATFORM_EVENT_SIGNAL
    assert event.job_id == "job-1"


async def test_a_mobile_callback_becomes_the_device_event_signal(receiver):
    http, client = receiver
    body = {"device_id": "md-1", "seq": 1, "kind": "activated", "status": "online",
            "at": "2026-01-01T00:00:00Z"}  # fmt: skip
    answer = await http.post(signed("mobile", "mobile-line/md-1"), json=body, headers=AUTH)
    assert answer.status_code == 202
    assert [(wf, name) for wf, name, _ in client.signals] == [
        ("mobile-line/md-1", DEVICE_EVENT_SIGNAL)
    ]


@pytest.mark.parametrize(
    ("path", "body", "headers", "status"),
    [
        (signed("platform", "wf"), PLATFORM, {}, 401),
        (signed("platform", "wf"), {"job_id": "job-1"}, AUTH, 422),
        (signed("platform", "wf"), "not json", AUTH, 422),
        (signed("fax", "wf"), PLATFORM, AUTH, 404),
        (signed("platform", "gone-wf"), PLATFORM, AUTH, 410),
        ("/callbacks/platform/wf", PLATFORM, AUTH, 403),
    ],
    ids=[
        "no-token",
        "incomplete-event",
        "not-json",
        "unknown-kind",
        "workflow-ended",
        "no-credential",
    ],
)
async def test_refused_callbacks_signal_nothing(receiver, path, body, headers, status):
    http, client = receiver
    if isinstance(body, str):
        json_type = {"Content-Type": "application/json"}
        answer = await http.post(path, content=body, headers={**headers, **json_type})
    else:
        answer = await http.post(path, json=body, headers=headers)
    assert answer.status_code == status, answer.text
    assert client.signals == []


async def test_healthz_needs_no_token(receiver):
    http, _ = receiver
    assert (await http.get("/healthz")).json() == {"status": "ok"}
