"""No one sees a code who should not: deletion codes and eSIM activation codes, end to end.

Each procedure runs for real (the session stack: dev server, simulator, worker, the CLI); the code
is read where its recipient reads it (the mailbox); then everything anyone else could read is
collected (tests/security/evidence.py: every run's history with payloads decoded, describe(),
search attributes, memo, static summary/details, current details, the status query, every
process's log) and searched for the code.

The one documented exception: the deletion code the operator typed is the argument of the
accepted ``confirm`` Update, so that one history event holds it (already used: the request is
confirmed and the code can never confirm anything again). Wrong attempts are in history too, and
they are not the code.
"""

import asyncio
import json
import re

import httpx
import pytest

from tests.processes import wait_until
from tests.security.evidence import UPDATE_ACCEPTED, collect
from tests.stack import Stack

pytestmark = pytest.mark.e2e


def mails_to(stack: Stack, address: str) -> list[dict]:
    found = httpx.get(f"{stack.platform_url}/api/v1/search", params={"query": f"to:{address}"})
    return [
        httpx.get(f"{stack.platform_url}/api/v1/message/{m['ID']}").json()
        for m in found.json()["messages"]
    ]


def test_the_deletion_code_shows_only_in_the_accepted_update(stack: Stack):
    tenant = "sec-del"
    stack.put_tenant(tenant, deletion_seconds=0.5, recordings=3)
    requested = stack.cli("delete", "--tenant", tenant, "--requested-by", "ops@provider.example")
    assert requested.code == 0, requested.stderr
    [email] = mails_to(stack, f"anna@{tenant}.example")
    code = re.search(r"Confirmation code: (\d{8})", email["Text"]).group(1)
    assert code not in requested.stdout  # the operator never sees it: only the Admins

    wrong = f"{(int(code) + 1) % 10**8:08d}"
    assert stack.cli("delete", "confirm", "--tenant", tenant, "--code", wrong).code == 1
    confirmed = stack.cli("delete", "confirm", "--tenant", tenant, "--code", code, "--wait")
    assert confirmed.code == 0, confirmed.stderr
    wait_until(
        lambda: any(
            m["Subject"].startswith("Service deleted")
            for m in mails_to(stack, "ops@provider.example")
        ),
        15,
        "the completion email",
    )

    evidence = asyncio.run(collect(stack, f"pbx-deletion/{tenant}"))

    # The scanner reads decoded payloads: the code is invisible in the raw history JSON (base64)
    # and found, decoded, in the one place it must be.
    assert code not in evidence.raw_history
    [accepted] = evidence.accepted_updates_with(code)
    assert accepted[UPDATE_ACCEPTED]["acceptedRequest"]["input"]["name"] == "confirm"
    assert evidence.places(code) == [
        f"history event {accepted['eventId']} EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED"
    ]
    # Everything the operator's terminal showed: no code either.
    assert code not in confirmed.stdout + confirmed.stderr


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
    [first] = mails_to(stack, user_mail)
    first_code = re.search(r"Activation code:\s+(\S+)", first["Text"]).group(1)
    activated = stack.cli(
        "mobile", "simulate", "activate", "--code", f"LPA:1$smdp.sec.example${first_code}"
    )
    assert activated.code == 0, activated.stderr

    def device_status() -> str:
        shown = stack.cli("mobile", "status", "--device", device_id, "--json")
        return json.loads(shown.stdout)["status"]["device_status"]

    wait_until(lambda: device_status() == "online", 20, "the line online")
    replaced = stack.cli("mobile", "lost-stolen", "--device", device_id, "--json")
    assert replaced.code == 0, replaced.stderr
    wait_until(lambda: len(mails_to(stack, user_mail)) == 2, 15, "the replacement code's email")
    second = next(m for m in mails_to(stack, user_mail) if m["ID"] != first["ID"])
    second_code = re.search(r"Activation code:\s+(\S+)", second["Text"]).group(1)
    assert second_code != first_code
    deleted = stack.cli("mobile", "delete", "--device", device_id, "--yes")
    assert deleted.code == 0, deleted.stderr

    evidence = asyncio.run(collect(stack, f"mobile-line/{device_id}"))

    assert evidence.places(device_id)  # the scanner does see the procedure's own data
    for code in (first_code, second_code):
        assert evidence.places(code) == [], code
    operator_output = provisioned.stdout + replaced.stdout + deleted.stdout + activated.stdout
    assert first_code not in operator_output and second_code not in operator_output
