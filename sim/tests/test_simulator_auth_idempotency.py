"""Bearer-token protection and Idempotency-Key replay."""

from collections.abc import Callable
from typing import Any

import httpx
from pbxsim.testing import SimulatorProcess

MakeTenant = Callable[..., dict[str, Any]]


def test_protected_routes_need_the_bearer_token(sim: SimulatorProcess) -> None:
    anonymous = httpx.Client(base_url=sim.base_url)
    for method, path in [("GET", "/pbx/tenants"), ("POST", "/helpdesk/tickets")]:
        response = anonymous.request(method, path)
        assert response.status_code == 401
        assert response.json() == {"detail": "missing or invalid bearer token"}
    wrong = anonymous.get("/pbx/tenants", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert anonymous.get("/healthz").status_code == 200


def test_admin_and_mailbox_routes_need_the_admin_token_not_the_platform_token(
    sim: SimulatorProcess,
) -> None:
    """Every operator holds the platform token: it must not reset the platform, inject
    faults, stop SMTP or read the codes in the mailbox (issue 16.6)."""
    platform = httpx.Client(base_url=sim.base_url, headers=sim.platform_headers)
    for method, path in [
        ("PUT", "/admin/faults"),
        ("POST", "/admin/reset"),
        ("POST", "/admin/smtp/stop"),
        ("PUT", "/admin/tenants/x"),
        ("GET", "/api/v1/messages"),
        ("DELETE", "/api/v1/messages"),
        ("GET", "/api/v1/search?query=to:x"),
        ("GET", "/inbox"),
    ]:
        response = platform.request(method, path)
        assert response.status_code == 401, (method, path, response.text)
        assert "admin token" in response.json()["detail"]
    admin = httpx.Client(base_url=sim.base_url, headers=sim.admin_headers)
    assert admin.get("/api/v1/messages").status_code == 200
    assert admin.get("/inbox").status_code == 200
    assert admin.get("/admin/faults").status_code == 200


def test_a_replayed_key_answers_the_stored_response_and_creates_nothing(
    client: httpx.Client, uid: str
) -> None:
    ticket = {"subject": "Ritardo", "body": "b", "tenant_id": "t", "workflow_id": f"wf-{uid}"}
    headers = {"Idempotency-Key": f"key-{uid}"}
    first = client.post("/helpdesk/tickets", json=ticket, headers=headers)
    again = client.post("/helpdesk/tickets", json=ticket, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    found = client.get("/helpdesk/tickets", params={"workflow_id": f"wf-{uid}"}).json()
    assert [t["id"] for t in found] == [first.json()["id"]]


def test_a_replayed_transition_returns_the_same_job(
    client: httpx.Client, make_tenant: MakeTenant, uid: str
) -> None:
    make_tenant(uid, deactivation_seconds=None)
    path = f"/pbx/tenants/{uid}/deactivation"
    headers = {"Idempotency-Key": f"deact-{uid}"}
    first = client.post(path, json={"callback_url": None}, headers=headers)
    again = client.post(path, json={"callback_url": None}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json()["job_id"] == first.json()["job_id"]
    # Without the key the same call is a new request, refused by the state machine.
    assert client.post(path, json={}).status_code == 409


def test_a_key_reused_for_another_request_is_refused(client: httpx.Client, uid: str) -> None:
    key = f"reuse-{uid}"
    body = {"subject": "s", "body": "b"}
    assert client.post("/helpdesk/tickets", json=body, headers={"Idempotency-Key": key}).is_success
    other = client.post(
        f"/pbx/tenants/{uid}/deactivation", json={}, headers={"Idempotency-Key": key}
    )
    assert other.status_code == 422
    assert other.json() == {
        "detail": f"Idempotency-Key '{key}' was already used for a different request"
    }


def test_an_anonymous_request_cannot_poison_a_key(sim: SimulatorProcess, uid: str) -> None:
    key = {"Idempotency-Key": f"anon-{uid}"}
    body = {"subject": "s", "body": "b"}
    anonymous = httpx.post(f"{sim.base_url}/helpdesk/tickets", json=body, headers=key)
    assert anonymous.status_code == 401
    assert sim.client.post("/helpdesk/tickets", json=body, headers=key).status_code == 201


def test_the_token_never_reaches_the_log(sim: SimulatorProcess) -> None:
    sim.client.get("/pbx/tenants").raise_for_status()
    httpx.get(f"{sim.base_url}/pbx/tenants", headers={"Authorization": "Bearer wrong-guess"})
    logs = sim.logs()
    assert "simulator ready" in logs
    assert sim.token not in logs
    assert "wrong-guess" not in logs
