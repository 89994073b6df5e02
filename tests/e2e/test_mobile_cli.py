"""Mobile lines end to end: the `pbxops mobile` CLI against the dev server, simulator and worker.

The user's QR code is read back from the mailbox's HTML page and decoded with a real QR decoder
(OpenCV); the decoded string is what the simulated phone activates with. Phone events travel as a
real platform's would: simulator callback → the worker's receiver → Signal.
"""

import asyncio
import base64
import csv
import json
import re

import httpx
import pytest

from tests.processes import wait_until
from tests.qr import decode_qr_png
from tests.security.evidence import collect
from tests.stack import ADMIN_HEADERS, Stack

pytestmark = pytest.mark.e2e


def mobile_tenant(stack: Stack, tenant_id: str, **org) -> None:
    stack.put_tenant(tenant_id)
    with stack.api() as api:
        body = {"licences_total": 1, "smdp_address": "smdp.e2e.example", **org}
        api.put(f"/admin/tenants/{tenant_id}/mobile", json=body).raise_for_status()


def mails(stack: Stack, address: str) -> list[dict]:
    found = httpx.get(
        f"{stack.platform_url}/api/v1/search",
        params={"query": f"to:{address}"},
        headers=ADMIN_HEADERS,
    )
    return found.json()["messages"]


def qr_from_inbox_page(stack: Stack, message_id: str) -> str:
    """The QR image as the mailbox's HTML page shows it, decoded by OpenCV."""
    page = httpx.get(f"{stack.platform_url}/inbox/{message_id}", headers=ADMIN_HEADERS).text
    match = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert match, "the inbox page shows no QR image"
    return decode_qr_png(base64.b64decode(match.group(1)))


def status(stack: Stack, device_id: str) -> dict:
    result = stack.cli("mobile", "status", "--device", device_id, "--json")
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def one_line_error(result, expected: str) -> None:
    assert result.code == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert expected in lines[0], lines[0]


def test_provision_email_qr_activate_lost_stolen_and_delete(stack: Stack, tmp_path):
    tenant = "e2e-mobile"
    mobile_tenant(stack, tenant)

    started = stack.cli(
        "mobile", "provision", "--tenant", tenant, "--user", f"{tenant}-u1", "--json"
    )
    assert started.code == 0, started.stderr
    out = json.loads(started.stdout)
    device_id, workflow_id = out["device_id"], out["workflow_id"]
    assert workflow_id == f"mobile-line/{device_id}" and "/workflows/mobile-line%2F" in out["url"]
    assert out["outcome"]["delivery"] == "email" and out["activation"] is None

    [mail] = mails(stack, f"anna@{tenant}.example")
    lpa = qr_from_inbox_page(stack, mail["ID"])
    assert lpa.startswith("LPA:1$smdp.e2e.example$")

    # The pool had one licence: a second line is refused before anything starts.
    one_line_error(
        stack.cli("mobile", "provision", "--tenant", tenant, "--user", f"{tenant}-u2"),
        f"no mobile-line licence left in the pool of tenant '{tenant}' (1 of 1 in use)",
    )

    # The phone scans the QR: the platform calls the worker back, the workflow goes online.
    assert stack.phone("activate", "--code", lpa).code == 0
    wait_until(
        lambda: status(stack, device_id)["status"]["device_status"] == "online", 20, "online"
    )
    shown = stack.cli("mobile", "status", "--device", device_id)
    assert "online" in shown.stdout and "green" in shown.stdout
    one_line_error(
        stack.cli("mobile", "new-code", "--device", device_id),
        f"mobile device '{device_id}' is online; a new activation code can be generated only "
        "while it is pending activation",
    )

    assert stack.phone("call", "--device", device_id, "--duration", "42").code == 0
    calls = tmp_path / "calls.csv"
    listed = stack.cli(
        "cdr",
        "--subclient-type",
        "Mobile_Network",
        "--tenant",
        tenant,
        "--since",
        "1h",
        "--csv",
        str(calls),
    )
    assert listed.code == 0, listed.stderr
    rows = list(csv.DictReader(calls.open()))
    assert [(r["device_id"], r["duration_seconds"], r["sub_client_type"]) for r in rows] == [
        (device_id, "42", "Mobile_Network")
    ]

    replaced = stack.cli(
        "mobile", "lost-stolen", "--device", device_id, "--json", "--by", "marco@provider.example"
    )
    assert replaced.code == 0, replaced.stderr
    assert json.loads(replaced.stdout)["outcome"]["status"] == "pending_activation"
    assert json.loads(replaced.stdout)["outcome"]["issued_by"] == "marco@provider.example"
    wait_until(lambda: len(mails(stack, f"anna@{tenant}.example")) == 2, 10, "the second email")
    newest = mails(stack, f"anna@{tenant}.example")[0]
    new_lpa = qr_from_inbox_page(stack, newest["ID"])
    assert new_lpa != lpa
    one_line_error(stack.phone("activate", "--code", lpa), "already used")

    deleted = stack.cli("mobile", "delete", "--device", device_id, "--yes")
    assert deleted.code == 0, deleted.stderr
    assert "licence is back in the pool (1 available)" in deleted.stdout
    wait_until(lambda: len(mails(stack, f"anna@{tenant}.example")) == 3, 10, "the deletion email")
    final = status(stack, device_id)
    assert final["execution"] == "completed" and final["status"]["device_status"] == "deleted"
    # Who did what: provisioned by the operator of the settings, changed with --by and without.
    shown = stack.cli("status", workflow_id)
    assert shown.code == 0, shown.stderr
    assert "started by    ops@provider.example" in shown.stdout
    assert "marco@provider.example reported the phone lost or stolen" in shown.stdout
    assert "ops@provider.example deleted the line" in shown.stdout

    # No activation code anywhere anyone else could read: every run's history with its payloads
    # decoded, describe(), search attributes, memo, the status query, every process's log.
    evidence = asyncio.run(collect(stack, workflow_id))
    # The search reads inside payloads: the user id is base64 in raw history, found decoded.
    assert f"{tenant}-u1" not in evidence.raw_history
    assert any(place.startswith("history event") for place in evidence.places(f"{tenant}-u1"))
    for secret in (lpa.rsplit("$", 1)[1], new_lpa.rsplit("$", 1)[1]):
        assert evidence.places(secret) == [], secret


def test_suppressed_emails_give_the_operator_the_code_which_expires(stack: Stack, tmp_path):
    tenant = "e2e-mobile-quiet"
    mobile_tenant(stack, tenant, suppress_emails=True)
    png = tmp_path / "qr.png"

    # A short validity so the expiry happens within the test (the default is 90 days). The new
    # code below inherits it, so it must outlast two CLI starts on a loaded 2-core machine.
    started = stack.cli(
        "mobile",
        "provision",
        "--tenant",
        tenant,
        "--user",
        f"{tenant}-u1",
        "--png",
        str(png),
        PBXOPS_MOBILE_CODE_VALIDITY="PT10S",
    )

    assert started.code == 0, started.stderr
    assert "not emailed" in started.stdout and "suppresses emails" in started.stdout
    printed = re.search(r"LPA:1\$smdp\.e2e\.example\$[A-Z0-9-]+", started.stdout)
    assert printed, started.stdout
    assert decode_qr_png(png.read_bytes()) == printed.group(0)
    assert mails(stack, f"anna@{tenant}.example") == []
    device_id = re.search(r"device (md-[0-9a-f]+)", started.stdout).group(1)

    wait_until(
        lambda: status(stack, device_id)["status"]["step"] == "code-expired", 60, "the expiry"
    )
    assert "code expired" in stack.cli("mobile", "status", "--device", device_id).stdout
    one_line_error(stack.phone("activate", "--code", printed.group(0)), "expired")

    again = stack.cli("mobile", "new-code", "--device", device_id, "--json")
    assert again.code == 0, again.stderr
    activation = json.loads(again.stdout)["activation"]
    assert activation["activation_code"] != printed.group(0)
    assert stack.phone("activate", "--device", device_id).code == 0
    wait_until(
        lambda: status(stack, device_id)["status"]["device_status"] == "online", 20, "online"
    )
    assert mails(stack, f"anna@{tenant}.example") == []
