"""The reseller portal's rules in the simulator: what pbxops is checked against."""

from typing import Any

import httpx
import pytest
from pbxsim.testing import SimulatorProcess


@pytest.fixture
def reseller(client: httpx.Client, uid: str) -> str:
    rid = f"r-{uid}"
    client.put(
        f"/admin/resellers/{rid}",
        json={
            "name": "R",
            "notification_email": f"ops@{rid}.example",
            "partners": [{"id": f"p-{uid}", "name": "Pat", "email": f"pat@{rid}.example"}],
        },
    ).raise_for_status()
    return rid


def create(client: httpx.Client, reseller: str, name: str, **fields: Any) -> httpx.Response:
    body = {
        "name": name,
        "product_type": "professional",
        "country": "IT",
        "support_contacts": [{"email": "help@x.example"}],
        **fields,
    }
    return client.post(f"/pbx/resellers/{reseller}/customers", json=body)


def test_product_types_and_roles_are_published(client):
    types = {t["id"]: t["immutable"] for t in client.get("/pbx/product-types").json()}
    assert types == {
        "essentials": False,
        "professional": False,
        "contact-centre": True,
        "compliance": True,
    }
    assert "Admin" in [r["id"] for r in client.get("/pbx/roles").json()]


def test_names_are_unique_per_reseller_ignoring_case_and_punctuation(client, reseller, uid):
    first = create(client, reseller, f"ACME {uid} S.r.l.")
    assert first.status_code == 201, first.text
    assert first.json()["state"] == "provisioning" and first.json()["locale"] == "it-IT"

    dup = create(client, reseller, f"acme {uid} srl")
    assert dup.status_code == 409
    assert dup.json()["detail"] == (
        f"a customer named 'ACME {uid} S.r.l.' already exists for reseller '{reseller}' "
        f"(account {first.json()['id']})"
    )
    client.put(f"/admin/resellers/other-{uid}", json={}).raise_for_status()
    assert create(client, f"other-{uid}", f"ACME {uid} S.r.l.").status_code == 201


def test_creation_needs_a_valid_contact(client, reseller, uid):
    none = create(client, reseller, f"No contact {uid}", support_contacts=[])
    assert none.status_code == 422
    assert none.json()["detail"] == (
        "at least one support contact is required to create a customer account"
    )
    bad = create(client, reseller, f"Bad {uid}", support_contacts=[{"email": "bob@@x"}])
    assert bad.status_code == 422 and bad.json()["detail"] == "Contains an invalid email: 'bob@@x'"
    assert client.get("/pbx/customers", params={"reseller": reseller}).json() == []


def test_one_internal_demo_per_reseller_and_immutable_types(client, reseller, uid):
    assert create(client, reseller, f"Demo {uid}", internal_demo=True).status_code == 201
    second = create(client, reseller, f"Demo two {uid}", internal_demo=True)
    assert second.status_code == 409 and "already has an internal demo system" in second.text

    cc = create(client, reseller, f"CC {uid}", product_type="contact-centre").json()
    refused = client.patch(f"/pbx/customers/{cc['id']}", json={"product_type": "essentials"})
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        f"product type 'contact-centre' of account '{cc['id']}' cannot be changed once assigned"
    )
    ok = client.patch(f"/pbx/customers/{cc['id']}", json={"reference": "PO-1", "country": "fr"})
    assert ok.json()["reference"] == "PO-1" and ok.json()["locale"] == "fr-FR"
    demo = client.patch(f"/pbx/customers/{cc['id']}", json={"internal_demo": True})
    assert demo.status_code == 409


def test_contact_rules_by_role(client, reseller, uid):
    partner_made = create(client, reseller, f"Partner made {uid}").json()["id"]
    client.put(
        f"/admin/customers/direct-{uid}",
        json={
            "reseller": reseller,
            "name": f"Direct {uid}",
            "product_type": "essentials",
            "country": "IT",
            "created_by": "provider",
            "support_contacts": [{"email": "direct@x.example"}],
        },
    ).raise_for_status()

    def change(account: str, action: str, contact: dict, acting_as: str, by: str | None = None):
        tail = "/remove" if action == "remove" else ""
        return client.post(
            f"/pbx/customers/{account}/support-contacts{tail}",
            json={"contact": contact, "acting_as": acting_as, "acting_user": by},
        )

    added = change(partner_made, "add", {"partner": f"p-{uid}"}, "partner", f"p-{uid}")
    assert added.status_code == 200 and len(added.json()["contacts"]) == 2
    stranger = change(partner_made, "add", {"email": "z@x.example"}, "partner", "p-anna")
    assert stranger.status_code == 403
    admin_partner = change(partner_made, "add", {"partner": f"p-{uid}"}, "admin")
    assert admin_partner.status_code == 403
    assert change(partner_made, "add", {"email": "n@x.example"}, "admin").status_code == 200

    refused = change(f"direct-{uid}", "add", {"email": "n@x.example"}, "admin")
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith(
        "an administrative user may change support contacts only on accounts created by a partner"
    )
    last = change(f"direct-{uid}", "remove", {"email": "direct@x.example"}, "partner")
    assert last.status_code == 403  # no partner manages a provider-made account

    for email in ("help@x.example", "n@x.example"):
        assert change(partner_made, "remove", {"email": email}, "partner").status_code == 200
    only = change(partner_made, "remove", {"partner": f"p-{uid}"}, "partner")
    assert only.status_code == 409 and "at least one support contact" in only.text


def test_billing_uses_the_reference_or_the_tenant_id_and_bills_no_demo(client, reseller, uid):
    with_ref = create(client, reseller, f"Ref {uid}", reference="PO-9").json()["id"]
    no_ref = create(client, reseller, f"NoRef {uid}").json()["id"]
    demo = create(client, reseller, f"Demo {uid}", internal_demo=True).json()["id"]
    create(client, reseller, f"Still provisioning {uid}")
    for account in (with_ref, no_ref, demo):
        client.post(f"/pbx/customers/{account}/admins", json={"name": "A", "email": "a@x.example"})
        client.post(f"/pbx/customers/{account}/activate").raise_for_status()

    bill = client.get("/pbx/billing", params={"month": "2099-01", "reseller": reseller}).json()

    rows = {row["account_id"]: row for row in bill["rows"]}
    assert set(rows) == {with_ref, no_ref, demo}
    assert rows[with_ref]["reference"] == "PO-9" and rows[with_ref]["amount"] == 7.5
    assert rows[no_ref]["reference"] == no_ref
    assert rows[demo]["amount"] == 0 and rows[demo]["note"] == "internal demo: not billed"
    assert client.get("/pbx/billing", params={"month": "2099-13"}).status_code == 422
    # Before the accounts existed, nothing to bill.
    old = client.get("/pbx/billing", params={"month": "2000-01", "reseller": reseller}).json()
    assert old["rows"] == []


def test_pbx_lists_are_paginated_and_a_live_account_is_never_deleted(client, reseller, uid):
    host = f"pbx.{uid}.example"
    client.put(
        f"/admin/customer-pbxs/{host}",
        json={"users": 5, "sub_accounts": [{"id": f"s{n}", "name": f"S{n}"} for n in range(5)]},
    ).raise_for_status()
    account = create(client, reseller, f"Paged {uid}").json()["id"]
    client.put(f"/pbx/customers/{account}/pbx", json={"host": host}).raise_for_status()
    client.post(f"/pbx/customers/{account}/pbx/connect").raise_for_status()

    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/pbx/customers/{account}/pbx/sub-accounts", params=params).json()
        seen += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["s0", "s1", "s2", "s3", "s4"] and page["total"] == 5

    client.post(f"/pbx/customers/{account}/activate").raise_for_status()
    refused = client.delete(f"/pbx/customers/{account}")
    assert refused.status_code == 409 and "only an account still being provisioned" in refused.text


def test_a_disabled_connection_neither_connects_nor_imports(client, reseller, uid):
    host = f"pbx.off-{uid}.example"
    client.put(f"/admin/customer-pbxs/{host}", json={"users": 3}).raise_for_status()
    account = create(client, reseller, f"Off {uid}").json()["id"]
    client.put(f"/pbx/customers/{account}/pbx", json={"host": host, "enabled": False})

    refused = client.post(f"/pbx/customers/{account}/pbx/connect")
    assert refused.status_code == 409 and "is disabled: enable it first" in refused.text
    client.post(f"/pbx/customers/{account}/pbx/enable").raise_for_status()
    assert client.post(f"/pbx/customers/{account}/pbx/connect").json()["users_total"] == 3


def test_the_seed_has_resellers_pbxs_a_demo_and_a_provider_made_account(tmp_path):
    with SimulatorProcess(tmp_path / "seeded.db", seed=True) as sim:
        client = sim.client
        assert {r["id"] for r in client.get("/pbx/resellers").json()} >= {"northwind", "contoso"}
        lab = client.get("/pbx/customers/northwind-lab").json()
        assert lab["internal_demo"] and lab["created_by"] == "partner"
        assert client.get("/pbx/customers/legacy-telco").json()["created_by"] == "provider"
        # One tenant model: each demo tenant is an ordinary customer of the direct reseller, and
        # each account a tenant with a Cloud PBX service.
        acme = client.get("/pbx/customers/acme").json()
        assert (acme["reseller"], acme["service_state"], acme["esim_licences"]) == (
            "pbx-direct",
            "active",
            5,
        )
        assert (acme["users"], acme["admins"]) == (3, 2)
        assert client.get("/pbx/tenants/northwind-lab").json()["service"]["state"] == "active"
        direct = client.get("/pbx/resellers/pbx-direct").json()
        assert direct["esim_licences_allocated"] == 5 + 3 + 1  # acme, globex, initech
        sim.restart()  # seeding again on start keeps what exists
        assert len(sim.client.get("/pbx/customers").json()) == 5


def test_non_latin_names_get_distinct_readable_account_ids(client, reseller, uid):
    """Issue 19.1: "Тест ООД 1" was account ``1``, and "Алфа ЕООД 1" its duplicate."""
    first = create(client, reseller, f"Тест ООД {uid}")
    second = create(client, reseller, f"Алфа ЕООД {uid}")
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert first.json()["id"] == f"test-ood-{uid}"
    assert second.json()["id"] == f"alfa-eood-{uid}"
