"""The demo seed (idempotent, keeps live state) and restarts that resume running jobs."""

import subprocess
import sys
from pathlib import Path
from typing import Any

from pbxsim.clock import utcnow
from pbxsim.db import Database
from pbxsim.pbx.models import Job
from pbxsim.settings import database_url
from pbxsim.testing import SimulatorProcess, wait_for

DEMO = {"acme": 3.0, "globex": 1200.0, "initech": None}


def _everything(sim: SimulatorProcess) -> dict[str, Any]:
    client = sim.client
    return {
        t["id"]: {
            "tenant": t,
            "users": client.get(f"/pbx/tenants/{t['id']}/users").json(),
            "extensions": client.get(f"/pbx/tenants/{t['id']}/extensions").json(),
        }
        for t in client.get("/pbx/tenants").json()
    }


def test_seed_cli_is_idempotent_and_serve_seed_keeps_live_state(tmp_path: Path) -> None:
    db_path = tmp_path / "demo.db"
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "pbxsim", "seed", "--db", str(db_path)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr

    with SimulatorProcess(db_path, seed=True) as sim:
        first = _everything(sim)
        # The demo tenants, and the seeded reseller accounts, which are tenants too (issue 15).
        assert set(first) == {*DEMO, "northwind-lab", "legacy-telco"}
        for tenant_id, seconds in DEMO.items():
            seeded = first[tenant_id]
            assert seeded["tenant"]["settings"]["deactivation_seconds"] == seconds
            assert seeded["tenant"]["service"]["state"] == "active"
            assert [u["roles"] for u in seeded["users"]] == [["Admin"], ["Admin"], ["User"]]
            assert all(u["email"].endswith(f"@{tenant_id}.example") for u in seeded["users"])
            assert 3 <= len(seeded["extensions"]) <= 5
            assert all(ext["registered"] for ext in seeded["extensions"])

        # A stuck deactivation in progress survives a restart that seeds again.
        sim.client.post("/pbx/tenants/initech/deactivation", json={}).raise_for_status()
        sim.restart()
        second = _everything(sim)
        assert second["initech"]["tenant"]["service"]["state"] == "deactivating"
        assert sim.client.post("/admin/tenants/initech/complete-jobs").json()["completed"]
        assert sim.tenant("initech")["service"]["state"] == "deactivated"
        for tenant_id in ("acme", "globex"):
            assert second[tenant_id] == first[tenant_id]


def test_a_restart_resumes_a_running_job(tmp_path: Path, receiver: Any) -> None:
    db_path = tmp_path / "restart.db"
    with SimulatorProcess(db_path) as sim:
        sim.put_tenant(
            "ripresa",
            deactivation_seconds=3600,
            extensions=[{"number": "100"}, {"number": "101"}],
        )
        job = sim.client.post(
            "/pbx/tenants/ripresa/deactivation", json={"callback_url": f"{receiver.url}/cb"}
        ).json()
        assert sim.stop() == 0, "a SIGTERM stop is clean"

        # While the simulator is down, its job comes due (as if the downtime outlasted it).
        db = Database(database_url(str(db_path)))
        with db.transaction() as session:
            stored = session.get(Job, job["job_id"])
            assert stored is not None and stored.status == "running"
            stored.due_at = utcnow()
        db.dispose()

        sim.start()
        wait_for(lambda: sim.tenant("ripresa")["service"]["state"] == "deactivated")
        extensions = sim.client.get("/pbx/tenants/ripresa/extensions").json()
        assert [e["registered"] for e in extensions] == [False, False]
        [delivered] = wait_for(lambda: receiver.received)
        assert delivered.body == {
            "job_id": job["job_id"],
            "kind": "deactivation",
            "tenant_id": "ripresa",
            "state": "deactivated",
        }
