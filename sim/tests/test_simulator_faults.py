"""Fault injection: a rule makes matching routes fail before anything runs."""

from collections.abc import Callable
from typing import Any

from pbxsim.testing import SimulatorProcess


def test_error_rate_one_fails_matching_routes_until_cleared(
    sim: SimulatorProcess, make_tenant: Callable[..., dict[str, Any]], uid: str
) -> None:
    client = sim.client
    make_tenant(uid)
    prefix = f"/pbx/tenants/{uid}"
    rule = {"route_prefix": prefix, "error_rate": 1.0, "latency_ms": 0, "latency_rate": 1.0}
    try:
        assert client.put("/admin/faults", json=rule).json() == rule
        assert rule in client.get("/admin/faults").json()

        failed = client.post(f"{prefix}/deactivation", json={})
        assert failed.status_code == 500
        assert failed.json() == {"detail": "injected fault"}
        assert client.get(prefix).status_code == 500
        # Other routes, the admin API and the mailbox are untouched.
        assert client.get("/pbx/tenants").status_code == 200
        assert client.get("/api/v1/messages").status_code == 200
        assert client.get("/healthz").status_code == 200

        # A rule for the same prefix replaces the earlier one.
        client.put("/admin/faults", json={**rule, "error_rate": 0.0, "latency_ms": 1})
        assert client.get(prefix).status_code == 200
        client.put("/admin/faults", json=rule)
        assert client.get(prefix).status_code == 500
    finally:
        assert client.delete("/admin/faults").status_code == 200
    assert client.get("/admin/faults").json() == []
    tenant = client.get(prefix)
    assert tenant.status_code == 200
    # The failed deactivation never ran.
    assert tenant.json()["service"]["state"] == "active"


def test_rules_are_validated(sim: SimulatorProcess) -> None:
    bad = [
        {"route_prefix": "pbx", "error_rate": 0.5},
        {"route_prefix": "/pbx", "error_rate": 1.5},
        {"route_prefix": "/pbx", "latency_ms": -1},
    ]
    for rule in bad:
        assert sim.client.put("/admin/faults", json=rule).status_code == 422
