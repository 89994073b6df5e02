"""No one sees a code who should not: deletion codes and eSIM activation codes, end to end.

Each procedure runs for real (the session stack: dev server, simulator, worker, the CLI); the code
is read where its recipient reads it (the mailbox); then everything anyone else could read is
collected (tests/security/evidence.py: every run's history with payloads decoded, describe(),
search attributes, memo, static summary/details, current details, the status query, every
process's log) and searched for the code.

No exception: the code the operator types reaches history only sealed to the worker's key
(starter/deletion.confirmation), whether it is right, wrong, or another tenant's live code typed
by mistake (issue 19.3). tests/security/test_history_recovery.py tries to open what history
holds with every published default.
"""

import asyncio
import json
import re

import pytest

from tests.processes import wait_until
from tests.security.evidence import UPDATE_ACCEPTED, Evidence, collect
from tests.stack import Stack

pytestmark = pytest.mark.e2e


def code_of(stack: Stack, tenant: str) -> str:
    [email] = stack.mails_to(f"anna@{tenant}.example")
    return re.search(r":\s+(\d{8})\s*$", email["Text"], re.MULTILINE).group(1)  # any language


def confirm_updates(evidence: Evidence) -> list[dict]:
    """The accepted ``confirm`` Updates' arguments, decoded."""
    return [
        json.loads(e[UPDATE_ACCEPTED]["acceptedRequest"]["input"]["args"]["payloads"][0]["data"])
        for e in evidence.events
        if UPDATE_ACCEPTED in e
        and e[UPDATE_ACCEPTED]["acceptedRequest"]["input"]["name"] == "confirm"
    ]


def test_the_deletion_code_shows_nowhere(stack: Stack):
    tenant = "sec-del"
    stack.put_tenant(tenant, deletion_seconds=0.5, recordings=3)
    requested = stack.cli("delete", "--tenant", tenant, "--requested-by", "ops@provider.example")
    assert requested.code == 0, requested.stderr
    [email] = stack.mails_to(f"anna@{tenant}.example")
    code = re.search(r":\s+(\d{8})\s*$", email["Text"], re.MULTILINE).group(1)
    assert code not in requested.stdout  # the operator never sees it: only the Admins

    wrong = f"{(int(code) + 1) % 10**8:08d}"
    assert stack.cli("delete", "confirm", "--tenant", tenant, "--code", wrong).code == 1
    confirmed = stack.cli("delete", "confirm", "--tenant", tenant, "--code", code, "--wait")
    assert confirmed.code == 0, confirmed.stderr
    wait_until(
        lambda: any(
            m["Subject"].startswith("Cloud PBX service deleted")  # the operator's, in English
            for m in stack.mails_to("ops@provider.example")
        ),
        15,
        "the completion email",
    )

    evidence = asyncio.run(collect(stack, f"pbx-deletion/{tenant}"))

    assert code not in evidence.raw_history
    assert evidence.places(code) == []
    # The scanner reads the decoded Updates (it is not blind): the wrong one and the right one,
    # each only sealed.
    updates = confirm_updates(evidence)
    assert len(updates) == 2 and all(u["sealed"] and not u["code"] for u in updates)
    assert evidence.places(updates[0]["sealed"]) and evidence.places(tenant)
    # Everything the operator's terminal showed: no code either.
    assert code not in confirmed.stdout + confirmed.stderr


def test_another_tenants_live_code_typed_by_mistake_reaches_no_history(stack: Stack):
    """Issue 19.3: `delete confirm --tenant acme --code <umbrella's code>` is refused, and the
    code, still valid for umbrella, must not be readable in acme's history (nor anywhere)."""
    acme, umbrella = "sec-wrong-acme", "sec-wrong-umbrella"
    for tenant in (acme, umbrella):
        stack.put_tenant(tenant)
        requested = stack.cli(
            "delete", "--tenant", tenant, "--requested-by", "ops@provider.example"
        )
        assert requested.code == 0, requested.stderr
    umbrellas_code = code_of(stack, umbrella)
    assert umbrellas_code != code_of(stack, acme)

    refused = stack.cli("delete", "confirm", "--tenant", acme, "--code", umbrellas_code)

    assert refused.code == 1 and "wrong code; 4 attempts left" in refused.stderr
    acme_evidence = asyncio.run(collect(stack, f"pbx-deletion/{acme}"))
    assert json.loads(acme_evidence.status)["wrong_codes"] == 1  # counted, durably
    assert acme_evidence.places(umbrellas_code) == []
    assert umbrellas_code not in acme_evidence.raw_history
    [attempt] = confirm_updates(acme_evidence)  # the attempt is in acme's history...
    assert attempt["sealed"] and not attempt["code"]  # ... sealed
    assert asyncio.run(collect(stack, f"pbx-deletion/{umbrella}")).places(umbrellas_code) == []
    for tenant in (acme, umbrella):
        assert stack.cli("delete", "cancel", "--tenant", tenant).code == 0


def test_esim_activation_codes_show_nowhere_but_in_the_users_mailbox(stack: Stack):
    tenant = "sec-mobile"
    stack.put_tenant(tenant)
    with stack.api() as api:
        api.put(
            f"/admin/tenants/{tenant}/mobile",
            json={"licences_total": 2, "smdp_address": "smdp.sec.example"},
        ).raise_for_status()
    user_mail = f"anna@{tenant}.example"

    provisioned = stack.cli(
        "mobile", "provision", "--tenant", tenant, "--user", f"{tenant}-u1", "--json"
    )
    assert provisioned.code == 0, provisioned.stderr
    device_id = json.loads(provisioned.stdout)["device_id"]
    [first] = stack.mails_to(user_mail)
    first_code = re.search(r"LPA:1\$[^$\s]+\$(\S+)", first["Text"]).group(1)
    activated = stack.phone("activate", "--code", f"LPA:1$smdp.sec.example${first_code}")
    assert activated.code == 0, activated.stderr

    def device_status() -> str:
        shown = stack.cli("mobile", "status", "--device", device_id, "--json")
        return json.loads(shown.stdout)["status"]["device_status"]

    wait_until(lambda: device_status() == "online", 20, "the line online")
    replaced = stack.cli("mobile", "lost-stolen", "--device", device_id, "--json")
    assert replaced.code == 0, replaced.stderr
    wait_until(lambda: len(stack.mails_to(user_mail)) == 2, 15, "the replacement code's email")
    second = next(m for m in stack.mails_to(user_mail) if m["ID"] != first["ID"])
    second_code = re.search(r"LPA:1\$[^$\s]+\$(\S+)", second["Text"]).group(1)
    assert second_code != first_code
    deleted = stack.cli("mobile", "delete", "--device", device_id, "--yes")
    assert deleted.code == 0, deleted.stderr

    evidence = asyncio.run(collect(stack, f"mobile-line/{device_id}"))

    assert evidence.places(device_id)  # the scanner does see the procedure's own data
    for code in (first_code, second_code):
        assert evidence.places(code) == [], code
    operator_output = provisioned.stdout + replaced.stdout + deleted.stdout + activated.stdout
    assert first_code not in operator_output and second_code not in operator_output
