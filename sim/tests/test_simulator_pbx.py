"""The PBX platform: deactivation and reactivation jobs, callbacks, a stuck platform."""

from collections.abc import Callable
from typing import Any

import httpx
from pbxsim.testing import SimulatorProcess, wait_for

MakeTenant = Callable[..., dict[str, Any]]
TOKEN_HEADER = "Bearer pbxops-dev-token"


def _state(sim: SimulatorProcess, tenant_id: str) -> str:
    state: str = sim.tenant(tenant_id)["service"]["state"]
    return state


def _extensions(client: httpx.Client, tenant_id: str) -> dict[str, bool]:
    response = client.get(f"/pbx/tenants/{tenant_id}/extensions")
    response.raise_for_status()
    return {ext["number"]: ext["registered"] for ext in response.json()}


def test_tenant_reads(sim: SimulatorProcess, make_tenant: MakeTenant, uid: str) -> None:
    created = make_tenant(uid)
    assert created["service"] == {
        "state": "active",
        "access": {"portal_url": f"https://{uid}.pbx.example", "sip_domain": f"{uid}.sip.example"},
        "billing_active": True,
        "usage_minutes": 321,
    }
    assert created["settings"] == {
        "deactivation_seconds": 0.5,
        "reactivation_seconds": 0.5,
        "deletion_seconds": 3.0,
    }
    assert sim.tenant(uid) == created
    assert uid in [t["id"] for t in sim.client.get("/pbx/tenants").json()]
    admins = sim.client.get(f"/pbx/tenants/{uid}/users", params={"role": "Admin"}).json()
    assert admins == [
        {"id": "u1", "name": "Anna Conti", "email": "anna@x.example", "roles": ["Admin"]}
    ]
    missing = sim.client.get("/pbx/tenants/nobody-here")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "tenant 'nobody-here' not found"}
    assert sim.client.get("/pbx/jobs/job-unknown").status_code == 404


def test_deactivation_then_reactivation(
    sim: SimulatorProcess, make_tenant: MakeTenant, receiver: Any, uid: str
) -> None:
    client = sim.client
    make_tenant(uid)
    callback_url = f"{receiver.url}/callbacks/platform/pbx-deactivation%2F{uid}"

    accepted = client.post(f"/pbx/tenants/{uid}/deactivation", json={"callback_url": callback_url})
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()
    assert job["kind"] == "deactivation"
    assert job["tenant_id"] == uid
    assert job["state"] == "deactivating"
    assert job["job_id"].startswith("job-")
    assert job["due_at"] is not None

    during = sim.tenant(uid)["service"]
    assert during["state"] == "deactivating"
    assert during["access"] is None

    again = client.post(f"/pbx/tenants/{uid}/deactivation", json={})
    assert again.status_code == 409
    assert again.json() == {
        "detail": f"service of tenant '{uid}' is deactivating; "
        "only an active service can be deactivated"
    }

    wait_for(lambda: _state(sim, uid) == "deactivated")
    after = sim.tenant(uid)["service"]
    assert after["access"] is None
    assert after["billing_active"] is True, "deactivation must leave billing alone"
    assert after["usage_minutes"] == 321
    assert _extensions(client, uid) == {"101": False, "102": False, "199": False}

    finished = client.get(f"/pbx/jobs/{job['job_id']}").json()
    assert finished["status"] == "done"
    assert finished["finished_at"] is not None

    # The callback reaches the receiver with the job's outcome and the platform's token.
    [delivered] = wait_for(lambda: receiver.received)
    assert delivered.path == f"/callbacks/platform/pbx-deactivation%2F{uid}"
    assert delivered.headers["Authorization"] == TOKEN_HEADER
    assert delivered.body == {
        "job_id": job["job_id"],
        "kind": "deactivation",
        "tenant_id": uid,
        "state": "deactivated",
    }
    wait_for(
        lambda: (
            client.get(f"/pbx/jobs/{job['job_id']}").json()["callback"]
            == {"state": "delivered", "attempts": 1}
        )
    )

    refused = client.post(f"/pbx/tenants/{uid}/deactivation", json={})
    assert refused.status_code == 409
    assert "is deactivated" in refused.json()["detail"]

    reactivation = client.post(f"/pbx/tenants/{uid}/reactivation", json={"callback_url": None})
    assert reactivation.status_code == 202
    assert reactivation.json()["state"] == "reactivating"
    assert _state(sim, uid) == "reactivating"
    wait_for(lambda: _state(sim, uid) == "active")
    service = sim.tenant(uid)["service"]
    assert service["access"] == {
        "portal_url": f"https://{uid}.pbx.example",
        "sip_domain": f"{uid}.sip.example",
    }
    assert _extensions(client, uid) == {"101": True, "102": True, "199": True}


def test_reactivation_only_from_deactivated(client: httpx.Client, make_tenant: MakeTenant) -> None:
    make_tenant("always-on")
    refused = client.post("/pbx/tenants/always-on/reactivation", json={})
    assert refused.status_code == 409
    assert refused.json() == {
        "detail": "service of tenant 'always-on' is active; "
        "only a deactivated service can be reactivated"
    }
    assert client.post("/pbx/tenants/ghost/reactivation", json={}).status_code == 404
    bad_url = client.post("/pbx/tenants/always-on/deactivation", json={"callback_url": "ftp://x"})
    assert bad_url.status_code == 422


def test_a_stuck_platform_finishes_only_when_told(
    sim: SimulatorProcess, make_tenant: MakeTenant, receiver: Any, uid: str
) -> None:
    client = sim.client
    make_tenant(uid, deactivation_seconds=None)
    job = client.post(
        f"/pbx/tenants/{uid}/deactivation", json={"callback_url": f"{receiver.url}/cb"}
    ).json()
    assert job["due_at"] is None

    # A job due at once, started after it, completes: the runner has looked at the stuck job
    # since, and left it alone.
    make_tenant(f"{uid}-fast", deactivation_seconds=0)
    client.post(f"/pbx/tenants/{uid}-fast/deactivation", json={})
    wait_for(lambda: _state(sim, f"{uid}-fast") == "deactivated")
    assert _state(sim, uid) == "deactivating"
    assert client.get(f"/pbx/jobs/{job['job_id']}").json()["status"] == "running"

    completed = client.post(f"/admin/tenants/{uid}/complete-jobs")
    assert completed.status_code == 200
    assert [j["job_id"] for j in completed.json()["completed"]] == [job["job_id"]]
    assert _state(sim, uid) == "deactivated"
    assert set(_extensions(client, uid).values()) == {False}
    [delivered] = wait_for(lambda: receiver.received)
    assert delivered.body["state"] == "deactivated"

    # Nothing left to complete.
    assert client.post(f"/admin/tenants/{uid}/complete-jobs").json() == {"completed": []}


def test_callback_delivery_is_retried_after_a_failure(
    sim: SimulatorProcess, make_tenant: MakeTenant, receiver: Any, uid: str
) -> None:
    client = sim.client
    make_tenant(uid, deactivation_seconds=0)
    receiver.statuses.extend([503])
    job = client.post(
        f"/pbx/tenants/{uid}/deactivation", json={"callback_url": f"{receiver.url}/cb"}
    ).json()
    wait_for(
        lambda: (
            client.get(f"/pbx/jobs/{job['job_id']}").json()["callback"]
            == {"state": "delivered", "attempts": 2}
        )
    )
    assert [r.body["job_id"] for r in receiver.received] == [job["job_id"]] * 2


def test_a_callback_refused_with_a_4xx_is_not_retried(
    sim: SimulatorProcess, make_tenant: MakeTenant, receiver: Any, uid: str
) -> None:
    client = sim.client
    make_tenant(uid, deactivation_seconds=0)
    receiver.statuses.extend([410])  # the receiver's "that workflow is gone"
    job = client.post(
        f"/pbx/tenants/{uid}/deactivation", json={"callback_url": f"{receiver.url}/cb"}
    ).json()
    wait_for(
        lambda: (
            client.get(f"/pbx/jobs/{job['job_id']}").json()["callback"]
            == {"state": "failed", "attempts": 1}
        )
    )
    assert len(receiver.received) == 1


def test_settings_patch_and_replacing_a_tenant_cancels_its_jobs(
    sim: SimulatorProcess, make_tenant: MakeTenant, uid: str
) -> None:
    client = sim.client
    make_tenant(uid, deactivation_seconds=None)
    patched = client.patch(f"/admin/tenants/{uid}/settings", json={"reactivation_seconds": 7})
    assert patched.json()["settings"] == {
        "deactivation_seconds": None,
        "reactivation_seconds": 7.0,
        "deletion_seconds": 3.0,
    }
    job = client.post(f"/pbx/tenants/{uid}/deactivation", json={}).json()
    make_tenant(uid)  # replaced: active again
    assert client.get(f"/pbx/jobs/{job['job_id']}").json()["status"] == "cancelled"
    assert _state(sim, uid) == "active"
    unknown_user = client.put(
        f"/admin/tenants/{uid}", json={"extensions": [{"number": "1", "user_id": "nobody"}]}
    )
    assert unknown_user.status_code == 422
