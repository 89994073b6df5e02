"""One tenant model (issue 15): a customer account is the tenant of the same id."""

import httpx


def _reseller(client: httpx.Client, uid: str, licences: int) -> str:
    rid = f"rs-{uid}"
    client.put(f"/admin/resellers/{rid}", json={"esim_licences": licences}).raise_for_status()
    return rid


def _create(client: httpx.Client, reseller: str, name: str, **fields) -> httpx.Response:
    body = {
        "name": name,
        "product_type": "essentials",
        "country": "FR",
        "support_contacts": [{"email": "help@x.example"}],
        **fields,
    }
    return client.post(f"/pbx/resellers/{reseller}/customers", json=body)


def test_a_new_account_is_a_tenant_provisioning_then_active(client, uid):
    reseller = _reseller(client, uid, licences=3)
    created = _create(client, reseller, f"Tenant {uid}", esim_licences=2)
    assert created.status_code == 201, created.text
    account = created.json()
    assert (account["tenant_id"], account["service_state"]) == (account["id"], "provisioning")
    tenant = client.get(f"/pbx/tenants/{account['id']}").json()
    assert tenant["service"]["state"] == "provisioning" and tenant["timezone"] == "Europe/Paris"
    assert tenant["service"]["billing_active"] is False  # nothing billed while provisioning
    assert client.get(f"/pbx/tenants/{account['id']}/mobile").json()["licences_total"] == 2
    assert client.get(f"/pbx/resellers/{reseller}").json()["esim_licences_available"] == 1

    # Nothing but provisioning may happen to it yet: the platform refuses a deactivation.
    refused = client.post(f"/pbx/tenants/{account['id']}/deactivation", json={})
    assert refused.status_code == 409 and "is provisioning" in refused.json()["detail"]

    client.post(f"/pbx/customers/{account['id']}/admins",
                json={"name": "Zoe", "email": f"zoe@{uid}.example"}).raise_for_status()  # fmt: skip
    [user] = client.get(f"/pbx/tenants/{account['id']}/users").json()
    assert (user["email"], user["roles"]) == (f"zoe@{uid}.example", ["Admin"])

    activated = client.post(f"/pbx/customers/{account['id']}/activate").json()
    assert activated["service_state"] == "active"
    service = client.get(f"/pbx/tenants/{account['id']}").json()["service"]
    assert service["state"] == "active" and service["billing_active"] is True


def test_an_undone_account_takes_its_tenant_and_a_pool_too_small_is_refused(client, uid):
    reseller = _reseller(client, uid, licences=1)
    refused = _create(client, reseller, f"Greedy {uid}", esim_licences=2)
    assert refused.status_code == 409
    assert "has 1 eSIM licence left in its pool; 2 asked" in refused.json()["detail"]

    account = _create(client, reseller, f"Undone {uid}", esim_licences=1).json()
    client.delete(f"/pbx/customers/{account['id']}").raise_for_status()
    assert client.get(f"/pbx/tenants/{account['id']}").status_code == 404
    assert client.get(f"/pbx/resellers/{reseller}").json()["esim_licences_available"] == 1


def test_a_deletion_closes_the_pending_problem_reports_as_service_deleted(client, uid):
    reseller = _reseller(client, uid, licences=0)
    account = _create(client, reseller, f"Leaving {uid}").json()
    aid = account["id"]
    client.post(f"/pbx/customers/{aid}/admins",
                json={"name": "Zoe", "email": f"zoe@{uid}.example"}).raise_for_status()  # fmt: skip
    client.post(f"/pbx/customers/{aid}/activate").raise_for_status()
    client.put(
        f"/pbx/customers/{aid}/problem-reports/PR-1",
        json={"application": "softphone", "description": "no audio",
              "reported_by": f"zoe@{uid}.example"},
    ).raise_for_status()  # fmt: skip
    [pending] = client.get(f"/pbx/customers/{aid}/problem-reports").json()
    assert (pending["state"], pending["resolution"]) == ("open", None)
    assert client.get(f"/pbx/tenants/{aid}").json()["data"]["problem_reports"] == 1

    client.post(f"/pbx/tenants/{aid}/deletion", json={}).raise_for_status()
    client.post(f"/admin/tenants/{aid}/complete-jobs").raise_for_status()

    after = client.get(f"/pbx/tenants/{aid}").json()
    assert after["service"]["state"] == "deleted"
    assert after["data"]["problem_reports"] == 0  # none still open
    # The reseller's support still finds the report, closed with the reason, and none of the
    # tenant's data in it.
    [closed] = client.get(f"/pbx/customers/{aid}/problem-reports").json()
    assert (closed["report_id"], closed["state"], closed["resolution"]) == (
        "PR-1",
        "closed",
        "service deleted",
    )
    assert closed["closed_at"] is not None
    assert (closed["description"], closed["reported_by"]) == ("", None)
