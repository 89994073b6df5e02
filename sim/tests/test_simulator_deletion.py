"""Service deletion on the platform: purge steps, the erasure job, what remains afterwards."""

from typing import Any

from pbxsim.testing import SimulatorProcess, wait_for


def test_purge_in_one_request_is_all_or_nothing(sim: SimulatorProcess, make_tenant, uid):
    make_tenant(uid, deletion_seconds=None, recordings=2, usage_minutes=30)
    client = sim.client
    steps = {"steps": ["extensions", "users", "recordings", "usage", "billing"]}
    assert client.post(f"/pbx/tenants/{uid}/purge", json=steps).status_code == 409  # active
    client.post(f"/pbx/tenants/{uid}/deletion", json={}).raise_for_status()

    bad = client.post(f"/pbx/tenants/{uid}/purge", json={"steps": ["users", "everything"]})
    assert bad.status_code == 404 and "unknown purge step 'everything'" in bad.json()["detail"]
    assert client.get(f"/pbx/tenants/{uid}").json()["data"]["users"] == 2  # nothing purged

    done = client.post(f"/pbx/tenants/{uid}/purge", json=steps).json()
    assert [(s["step"], s["removed"]) for s in done["steps"]] == [
        ("extensions", 3),
        ("users", 2),
        ("recordings", 2),
        ("usage", 30),
        ("billing", 1),
    ]
    data = client.get(f"/pbx/tenants/{uid}").json()["data"]
    assert (data["users"], data["extensions"], data["recordings"]) == (0, 0, 0)


def test_deletion_purges_everything_but_the_record(sim: SimulatorProcess, make_tenant, uid):
    make_tenant(uid, deletion_seconds=None, recordings=5, usage_minutes=900)
    client = sim.client
    number = f"+3902{abs(hash(uid)) % 10**8:08d}"
    client.put(
        f"/admin/numbers/tenants/{uid}", json={"devices": [{"number": number}]}
    ).raise_for_status()
    before = client.get(f"/pbx/tenants/{uid}").json()
    assert before["data"] == {
        "users": 2,
        "extensions": 3,
        "extensions_registered": 3,
        "recordings": 5,
        "mobile_lines": 0,
        "numbers": 1,
        "support_contacts": 0,
        "problem_reports": 0,
    }

    refused = client.post(f"/pbx/tenants/{uid}/purge/users")
    assert refused.status_code == 409 and "only while it is deleting" in refused.json()["detail"]

    job = client.post(f"/pbx/tenants/{uid}/deletion", json={}).json()
    assert job["state"] == "deleting" and job["due_at"] is None  # stuck until completed
    first = client.post(f"/pbx/tenants/{uid}/purge/users", headers={"Idempotency-Key": "k1"})
    assert first.json()["removed"] == 2
    again = client.post(f"/pbx/tenants/{uid}/purge/users")
    assert again.json()["removed"] == 0
    assert client.post(f"/pbx/tenants/{uid}/purge/everything").status_code == 404

    client.post(f"/admin/tenants/{uid}/complete-jobs").raise_for_status()
    after: dict[str, Any] = client.get(f"/pbx/tenants/{uid}").json()
    assert after["service"]["state"] == "deleted"
    assert after["service"]["usage_minutes"] == 0
    assert after["service"]["billing_active"] is False
    assert after["service"]["access"] is None
    assert after["data"] == {
        "users": 0,
        "extensions": 0,
        "extensions_registered": 0,
        "recordings": 0,
        "mobile_lines": 0,
        "numbers": 0,
        "support_contacts": 0,
        "problem_reports": 0,
    }
    assert after["deleted_at"] is not None
    assert client.get(f"/pbx/tenants/{uid}/extensions").json() == []
    [device] = client.get(f"/admin/numbers/tenants/{uid}").json()["devices"]
    assert device["number"] == number and device["deleted_at"] is not None  # released


def test_deletion_only_from_active_or_deactivated(sim: SimulatorProcess, make_tenant, uid):
    make_tenant(uid, state="deactivated", deletion_seconds=0.2)
    client = sim.client
    assert client.post(f"/pbx/tenants/{uid}/deletion", json={}).status_code == 202
    wait_for(lambda: client.get(f"/pbx/tenants/{uid}").json()["service"]["state"] == "deleted")
    again = client.post(f"/pbx/tenants/{uid}/deletion", json={})
    assert again.status_code == 409
    assert again.json()["detail"] == (
        f"service of tenant '{uid}' is deleted; only an active or deactivated service can be"
        " deleted"
    )
