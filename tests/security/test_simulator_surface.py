"""The simulator's own controls are not the platform's (issue 16.6).

Every operator holds the platform token, so it must not list the deletion and activation codes in
the mailbox, wipe it, reset the platform, inject faults or take SMTP down. Those need
``SIMULATOR_ADMIN_TOKEN`` (``X-Admin-Token``); the HTML inbox is open only in dev mode (``make
up``) or after ``/inbox?admin_token=…``. A simulator of its own, so a refusal that failed could
not wipe the session's shared stack.
"""

import smtplib
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from pbxsim.testing import SimulatorProcess, wait_for

ROUTES = [
    ("GET", "/api/v1/messages"),
    ("GET", "/api/v1/search?query=to:anna"),
    ("DELETE", "/api/v1/messages"),
    ("GET", "/inbox"),
    ("POST", "/admin/reset"),
    ("PUT", "/admin/faults"),
    ("GET", "/admin/faults"),
    ("DELETE", "/admin/faults"),
    ("POST", "/admin/smtp/stop"),
    ("PUT", "/admin/tenants/sec-x"),
    ("POST", "/admin/tenants/acme/complete-jobs"),
    ("PUT", "/admin/tenants/acme/mobile"),
]


def _send_code_email(sim: SimulatorProcess) -> None:
    message = EmailMessage()
    message["From"] = "pbxops <noreply@pbxops.example>"
    message["To"] = "anna@acme.example"
    message["Subject"] = "Confirm the DELETION of your Cloud PBX service"
    message["Message-ID"] = "<surface@pbxops>"
    message.set_content("Confirmation code: 12345678")
    with smtplib.SMTP("127.0.0.1", sim.smtp_port) as smtp:
        smtp.send_message(message)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    with SimulatorProcess(tmp_path_factory.mktemp("surface") / "sim.db", seed=True) as process:
        _send_code_email(process)
        wait_for(
            lambda: process.client.get("/api/v1/messages").json()["total"] == 1,
            timeout=10,
        )
        yield process


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_the_platform_token_opens_no_admin_chaos_or_mailbox_route(
    sim: SimulatorProcess, method: str, path: str
):
    for headers in ({}, sim.platform_headers, {"X-Admin-Token": sim.token}):
        answer = httpx.request(method, f"{sim.base_url}{path}", headers=headers, json={})
        assert answer.status_code == 401, (headers, answer.text)
        assert "admin token" in answer.json()["detail"]
    # Nothing happened: the code email is still there, the platform still seeded, SMTP up.
    assert sim.client.get("/api/v1/messages").json()["total"] == 1
    assert sim.client.get("/pbx/tenants/acme").status_code == 200
    assert sim.client.get("/admin/smtp").json() == {"listening": True}


def test_the_admin_token_opens_them(sim: SimulatorProcess):
    admin = httpx.Client(base_url=sim.base_url, headers=sim.admin_headers)
    listed = admin.get("/api/v1/messages").json()
    assert listed["total"] == 1
    message = admin.get(f"/api/v1/message/{listed['messages'][0]['ID']}").json()
    assert "12345678" in message["Text"]
    assert admin.get("/admin/faults").json() == []
    assert admin.get("/inbox").status_code == 200


def test_the_html_inbox_opens_once_with_the_token_in_the_query(sim: SimulatorProcess):
    browser = httpx.Client(base_url=sim.base_url)
    assert browser.get("/inbox").status_code == 401
    assert browser.get("/inbox?admin_token=wrong").status_code == 401
    assert browser.get(f"/inbox?admin_token={sim.token}").status_code == 401

    login = browser.get(f"/inbox?admin_token={sim.admin_token}")
    assert login.status_code == 303 and login.headers["location"] == "/inbox"
    cookie = login.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = browser.get("/inbox")  # the cookie, no token in the URL
    assert page.status_code == 200 and "DELETION" in page.text
    # The cookie is the inbox's only: the mailbox API still wants the header.
    assert browser.get("/api/v1/messages").status_code == 401


def test_dev_mode_opens_the_html_inbox_and_nothing_else(tmp_path):
    with SimulatorProcess(tmp_path / "dev.db", env={"SIMULATOR_DEV_MODE": "true"}) as dev:
        anonymous = httpx.Client(base_url=dev.base_url)
        assert anonymous.get("/inbox").status_code == 200
        assert anonymous.get("/api/v1/messages").status_code == 401
        assert anonymous.post("/admin/reset").status_code == 401


@pytest.mark.parametrize(
    "env",
    [
        {"SIMULATOR_API_TOKEN": "same-token", "SIMULATOR_ADMIN_TOKEN": "same-token"},
        {"SIMULATOR_ADMIN_TOKEN": "pbxops-dev-token"},  # the platform token's default
        {"SIMULATOR_ADMIN_TOKEN": ""},
    ],
    ids=["equal", "platform-default", "empty"],
)
def test_an_admin_token_equal_to_the_platform_token_is_refused_in_one_line(tmp_path, env):
    done = subprocess.run(
        [sys.executable, "-m", "pbxsim", "seed", "--db", str(tmp_path / "x.db")],
        cwd=Path(__file__).resolve().parents[2],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "SIMULATOR_ADMIN_TOKEN" in lines[0]
