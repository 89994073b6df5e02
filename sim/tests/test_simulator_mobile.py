"""The platform's mobile lines: licence pool, one live code, one-time use, expiry, phone events."""

from collections.abc import Callable
from typing import Any

import httpx
from pbxsim.testing import SimulatorProcess, wait_for

MakeTenant = Callable[..., dict[str, Any]]


def _org(client: httpx.Client, tenant_id: str, **fields: Any) -> dict[str, Any]:
    response = client.put(f"/admin/tenants/{tenant_id}/mobile", json=fields)
    response.raise_for_status()
    return response.json()


def _device(client: httpx.Client, device_id: str, tenant_id: str, user_id: str, **extra: Any):
    return client.put(
        f"/pbx/mobile/devices/{device_id}",
        json={"tenant_id": tenant_id, "user_id": user_id, **extra},
    )


def _code(client: httpx.Client, device_id: str, reason: str = "new-code", **extra: Any):
    return client.post(
        f"/pbx/mobile/devices/{device_id}/activation-codes", json={"reason": reason, **extra}
    )


def _activate(client: httpx.Client, code: str) -> httpx.Response:
    return client.post("/phone/esim/activate", json={"activation_code": code})


def test_pool_assigns_and_returns_licences(sim: SimulatorProcess, make_tenant: MakeTenant, uid):
    make_tenant(uid)
    org = _org(sim.client, uid, licences_total=1)
    assert org["licences_available"] == 1 and org["suppress_emails"] is False

    created = _device(sim.client, f"md-{uid}-1", uid, "u1")
    assert created.status_code == 201, created.text
    device = created.json()
    assert device["status"] == "pending_activation" and device["colour"] == "grey"
    assert device["number"].startswith("+39") and device["licences_available"] == 0
    # The same device again is the same answer (the activity's retry), not a second licence.
    assert _device(sim.client, f"md-{uid}-1", uid, "u1").status_code == 200

    refused = _device(sim.client, f"md-{uid}-2", uid, "u2")
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        f"no mobile-line licence left in the pool of tenant '{uid}' (1 of 1 in use)"
    )
    twice = _device(sim.client, f"md-{uid}-3", uid, "u1")
    assert "already has mobile line" in twice.json()["detail"]
    unknown = _device(sim.client, f"md-{uid}-4", uid, "nobody")
    assert unknown.status_code == 404
    no_tenant = _device(sim.client, f"md-{uid}-5", f"{uid}-gone", "u1")
    assert no_tenant.status_code == 404
    assert no_tenant.json()["detail"] == f"tenant '{uid}-gone' not found"

    deleted = sim.client.delete(f"/pbx/mobile/devices/md-{uid}-1").json()
    assert deleted["device"]["status"] == "deleted" and deleted["licences_available"] == 1
    assert deleted["user"]["email"] == "anna@x.example"
    assert _device(sim.client, f"md-{uid}-2", uid, "u2").status_code == 201


def test_one_live_code_accepted_once(sim: SimulatorProcess, make_tenant: MakeTenant, uid):
    make_tenant(uid)
    _org(sim.client, uid, licences_total=2, smdp_address="smdp.test.example")
    device_id = f"md-{uid}"
    _device(sim.client, device_id, uid, "u1").raise_for_status()

    first = _code(sim.client, device_id, "provision").json()
    assert first["activation_code"] == f"LPA:1$smdp.test.example${first['matching_id']}"
    second = _code(sim.client, device_id).json()
    assert second["code_id"] != first["code_id"]

    # A new code invalidates every earlier one.
    old = _activate(sim.client, first["activation_code"])
    assert old.status_code == 409 and old.json()["detail"] == (
        "activation code was replaced by a newer one"
    )
    # The Apple path: the matching id alone is the activation code.
    ok = _activate(sim.client, second["matching_id"])
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "online" and ok.json()["colour"] == "green"
    again = _activate(sim.client, second["activation_code"])
    assert again.status_code == 409 and again.json()["detail"] == "activation code already used"

    online = _code(sim.client, device_id)
    assert online.status_code == 409
    assert online.json()["detail"] == (
        f"mobile device '{device_id}' is online; a new activation code can be generated only "
        "while it is pending activation"
    )
    assert sim.client.get(f"/pbx/mobile/devices/{device_id}/activation-code").status_code == 404
    assert _activate(sim.client, "LPA:1$other.example$" + second["matching_id"]).status_code == 409
    assert _activate(sim.client, "LPA:2$x").status_code == 400


def test_expired_code_is_refused(sim: SimulatorProcess, make_tenant: MakeTenant, uid):
    make_tenant(uid)
    _org(sim.client, uid, licences_total=1)
    device_id = f"md-{uid}"
    _device(sim.client, device_id, uid, "u1").raise_for_status()
    issued = _code(sim.client, device_id, "provision", validity_seconds=0.2).json()

    def latest_state() -> str:
        device = sim.client.get(f"/pbx/mobile/devices/{device_id}").json()
        return device["latest_code"]["state"]

    wait_for(lambda: latest_state() == "expired", timeout=5)
    refused = _activate(sim.client, issued["activation_code"])
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith("activation code expired on")
    device = sim.client.get(f"/pbx/mobile/devices/{device_id}").json()
    assert device["status"] == "pending_activation"


def test_owner_expires_code_and_lost_stolen_revokes_the_phone(
    sim: SimulatorProcess, make_tenant: MakeTenant, uid
):
    make_tenant(uid)
    _org(sim.client, uid, licences_total=1)
    device_id = f"md-{uid}"
    _device(sim.client, device_id, uid, "u1").raise_for_status()
    first = _code(sim.client, device_id, "provision").json()
    expired = sim.client.post(
        f"/pbx/mobile/devices/{device_id}/activation-codes/{first['code_id']}/expire"
    ).json()
    assert expired["latest_code"]["state"] == "expired"
    assert _activate(sim.client, first["activation_code"]).status_code == 409

    second = _code(sim.client, device_id).json()
    _activate(sim.client, second["activation_code"]).raise_for_status()
    replacement = _code(sim.client, device_id, "lost-stolen").json()
    assert replacement["device"]["status"] == "pending_activation"
    assert replacement["device"]["phone_holds_line"] is False
    # The lost phone no longer holds the line.
    lost = sim.client.post(f"/phone/devices/{device_id}/deactivate")
    assert lost.status_code == 409 and "no phone holds the line" in lost.json()["detail"]
    assert _activate(sim.client, replacement["activation_code"]).status_code == 200


def test_phone_events_reach_the_callback_in_order_of_seq(
    sim: SimulatorProcess, make_tenant: MakeTenant, uid, receiver
):
    make_tenant(uid)
    _org(sim.client, uid, licences_total=1, auto_calls_every_seconds=0.05)
    device_id = f"md-{uid}"
    path = f"/callbacks/mobile/{device_id}"
    _device(sim.client, device_id, uid, "u1", callback_url=receiver.url + path).raise_for_status()
    code = _code(sim.client, device_id, "provision").json()
    _activate(sim.client, code["activation_code"]).raise_for_status()
    assert sim.client.post(f"/phone/devices/{device_id}/deactivate").json()["colour"] == "red"
    assert sim.client.post(f"/phone/devices/{device_id}/reactivate").json()["status"] == "online"
    call = sim.client.post(f"/phone/devices/{device_id}/calls", json={"duration_seconds": 42})
    assert call.status_code == 201 and call.json()["sub_client_type"] == "Mobile_Network"
    assert sim.client.post(f"/phone/devices/{device_id}/remove").json()["status"] == (
        "pending_activation"
    )

    wait_for(lambda: len(receiver.for_path(path)) == 4, timeout=10)
    events = sorted((r.body for r in receiver.for_path(path)), key=lambda e: e["seq"])
    assert [(e["seq"], e["kind"], e["status"]) for e in events] == [
        (1, "activated", "online"),
        (2, "deactivated", "offline"),
        (3, "reactivated", "online"),
        (4, "removed", "pending_activation"),
    ]
    assert events[0]["code_id"] == code["code_id"]
    assert receiver.for_path(path)[0].headers["Authorization"] == "Bearer pbxops-dev-token"
    # No secret in an event.
    assert code["matching_id"] not in str(events)

    cdrs = sim.client.get(
        "/pbx/cdrs", params={"tenant_id": uid, "subclient_type": "Mobile_Network"}
    ).json()
    assert any(c["duration_seconds"] == 42 and c["device_id"] == device_id for c in cdrs)
    assert all(c["sub_client_type"] == "Mobile_Network" for c in cdrs)
    offline_call = sim.client.post(f"/phone/devices/{device_id}/calls")
    assert offline_call.status_code == 409


def test_seed_gives_the_demo_tenants_pools_and_desk_calls(tmp_path):
    with SimulatorProcess(tmp_path / "seeded.db", seed=True) as seeded:
        acme = seeded.client.get("/pbx/tenants/acme/mobile").json()
        globex = seeded.client.get("/pbx/tenants/globex/mobile").json()
        initech = seeded.client.get("/pbx/tenants/initech/mobile").json()
        assert (acme["licences_total"], acme["suppress_emails"]) == (5, False)
        assert (globex["licences_total"], globex["suppress_emails"]) == (3, True)
        assert initech["licences_available"] == 1
        desk = seeded.client.get(
            "/pbx/cdrs", params={"tenant_id": "acme", "subclient_type": "Desk_Phone"}
        ).json()
        assert len(desk) == 3
        assert (
            seeded.client.get(
                "/pbx/cdrs", params={"tenant_id": "acme", "subclient_type": "Mobile_Network"}
            ).json()
            == []
        )
