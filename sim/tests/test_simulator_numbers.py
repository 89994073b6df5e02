"""The simulator's phone-number systems: support view (CSU), device portal, e-commerce panel."""

import random
import stat
import time
from pathlib import Path

import httpx
from pbxsim.testing import SimulatorProcess, wait_for


def vault(sim: SimulatorProcess) -> Path:
    return sim.db_path.parent / "secrets"


def login(sim: SimulatorProcess, system: str) -> tuple[str, str]:
    folder = vault(sim)
    return (
        (folder / f"pbxops_{system}_username").read_text(),
        (folder / f"pbxops_{system}_password").read_text(),
    )


def operator(sim: SimulatorProcess, system: str) -> httpx.Client:
    headers = {"X-COID": "1"} if system == "device_portal" else {}
    return httpx.Client(base_url=sim.base_url, auth=login(sim, system), headers=headers, timeout=10)


def new_number() -> str:
    return "+3906" + "".join(random.choice("0123456789") for _ in range(8))


def put_numbers(sim: SimulatorProcess, tenant_id: str, **body) -> httpx.Response:
    return sim.client.put(f"/admin/numbers/tenants/{tenant_id}", json=body)


def test_operator_accounts_are_provisioned_in_the_vault_and_checked(sim, make_tenant, uid):
    for system in ("csu", "device_portal", "ecommerce"):
        for part in ("username", "password"):
            mode = (vault(sim) / f"pbxops_{system}_{part}").stat().st_mode
            assert stat.S_IMODE(mode) == 0o600
    make_tenant(uid)
    number = new_number()
    put_numbers(sim, uid, devices=[{"number": number}]).raise_for_status()

    with operator(sim, "csu") as csu:
        assert csu.get(f"/csu/numbers/{number}").status_code == 200
    # The platform's bearer token is not an operator account; neither is another system's.
    assert sim.client.get(f"/csu/numbers/{number}").status_code == 401
    wrong = httpx.get(f"{sim.base_url}/csu/numbers/{number}", auth=login(sim, "ecommerce"))
    assert wrong.status_code == 401
    assert wrong.json() == {"detail": "invalid operator credentials for the support view (CSU)"}
    with httpx.Client(base_url=sim.base_url, auth=login(sim, "device_portal")) as no_coid:
        refused = no_coid.get(f"/streetsmart/companies/{uid}/devices")
    assert refused.status_code == 401 and "COID" in refused.json()["detail"]
    password = login(sim, "csu")[1]
    assert password not in sim.logs()


def test_csu_shows_the_deleted_datetime_after_its_sync_delay(sim, make_tenant, uid):
    make_tenant(uid)
    number = new_number()
    made = put_numbers(
        sim,
        uid,
        ecommerce_account={"account_number": f"2CO-{uid}", "licences": 3},
        devices=[
            {
                "number": number,
                "label": "Sales",
                "soc_code": "Ecom2Checkout1515",
                "csu_sync_seconds": 0.5,
            }
        ],
    ).json()
    device = made["devices"][0]
    assert device["billing_account"] == f"2CO-{uid}"  # the tenant's account, for Ecom SOC codes

    with operator(sim, "csu") as csu, operator(sim, "device_portal") as portal:
        before = csu.get(f"/csu/numbers/{number}").json()
        assert before["soc_code"] == "Ecom2Checkout1515" and before["deleted_datetime"] is None
        deleted = portal.delete(
            f"/streetsmart/companies/{uid}/devices/{device['device_id']}",
            headers={"Idempotency-Key": "k-1"},
        )
        assert deleted.status_code == 200
        assert portal.get(f"/streetsmart/companies/{uid}/devices").json() == []
        # Not yet in CSU: its sync takes half a second here.
        assert csu.get(f"/csu/numbers/{number}").json()["deleted_datetime"] is None
        shown = wait_for(lambda: csu.get(f"/csu/numbers/{number}").json()["deleted_datetime"])
        assert shown.replace("Z", "+00:00")[:19] == deleted.json()["deleted_at"][:19]
        # The same key replays the deletion; another key is refused.
        replay = portal.delete(
            f"/streetsmart/companies/{uid}/devices/{device['device_id']}",
            headers={"Idempotency-Key": "k-1"},
        )
        assert replay.json() == deleted.json()
        assert replay.headers["Idempotent-Replayed"] == "true"
        again = portal.delete(f"/streetsmart/companies/{uid}/devices/{device['device_id']}")
        assert again.status_code == 409 and "was already deleted at" in again.json()["detail"]
        assert csu.get("/csu/numbers/+39").status_code == 422
        assert csu.get(f"/csu/numbers/{new_number()}").status_code == 404

    with operator(sim, "ecommerce") as shop:
        account = shop.get(f"/ecommerce/accounts/2CO-{uid}").json()
    assert account["licences"] == 3
    assert account["update_subscription_url"].startswith("https://secure.2checkout.example/")


def test_never_syncing_and_locked_numbers(sim, make_tenant, uid):
    make_tenant(uid)
    lagging, locked = new_number(), new_number()
    made = put_numbers(
        sim,
        uid,
        devices=[
            {"number": lagging, "csu_sync_seconds": None},
            {"number": locked, "locked_reason": "porting in progress"},
        ],
    ).json()
    ids = {d["number"]: d["device_id"] for d in made["devices"]}
    with operator(sim, "csu") as csu, operator(sim, "device_portal") as portal:
        portal.delete(f"/streetsmart/companies/{uid}/devices/{ids[lagging]}").raise_for_status()
        refused = portal.delete(f"/streetsmart/companies/{uid}/devices/{ids[locked]}")
        assert refused.status_code == 409
        assert refused.json()["detail"].endswith("cannot be deleted: porting in progress")
        time.sleep(0.3)
        assert csu.get(f"/csu/numbers/{lagging}").json()["deleted_datetime"] is None
        # The knob changes later: CSU catches up.
        sim.client.patch(f"/admin/numbers/{lagging}", json={"csu_sync_seconds": 0})
        assert csu.get(f"/csu/numbers/{lagging}").json()["deleted_datetime"] is not None


def test_a_number_belongs_to_one_tenant_at_a_time(sim, make_tenant, uid):
    make_tenant(f"{uid}-a")
    make_tenant(f"{uid}-b")
    number = new_number()
    put_numbers(sim, f"{uid}-a", devices=[{"number": number}]).raise_for_status()

    taken = put_numbers(sim, f"{uid}-b", devices=[{"number": number}])
    assert taken.status_code == 409 and f"tenant '{uid}-a'" in taken.json()["detail"]
    assert put_numbers(sim, f"{uid}-b", devices=[{"number": "0280881001"}]).status_code == 422
    assert put_numbers(sim, "nobody-here", devices=[]).status_code == 404


def test_seed_has_one_demo_number_per_path_and_reseeding_adds_none(tmp_path):
    with SimulatorProcess(tmp_path / "seeded.db", seed=True) as sim:
        sim.restart()  # seeds again
        with operator(sim, "csu") as csu:
            acme = csu.get("/csu/numbers", params={"tenant_id": "acme"}).json()
            initech = csu.get("/csu/numbers", params={"tenant_id": "initech"}).json()
            globex = csu.get("/csu/numbers", params={"tenant_id": "globex"}).json()
    assert {r["soc_code"] for r in acme} == {"Ecom2Checkout1515"}
    assert len(acme) == 3 and all(r["billing_account"] == "2CO-100231" for r in acme)
    assert {r["soc_code"] for r in globex} == {"CKSWDirectAdv1515"}
    assert "LegacyBundle0909" in {r["soc_code"] for r in initech}
