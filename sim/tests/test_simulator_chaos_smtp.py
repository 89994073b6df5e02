"""``/admin/smtp``: the chaos suite takes the SMTP listener down and brings it back, while the
HTTP API and the stored mail stay up; a stop with the listener down is still graceful."""

from email.message import EmailMessage

import aiosmtplib
import httpx
import pytest
from pbxsim.testing import SimulatorProcess, wait_for


def _message(uid: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "pbxops <noreply@pbxops.example>"
    message["To"] = f"smtp.{uid}@acme.example"
    message["Subject"] = f"SMTP pause {uid}"
    message["Message-ID"] = f"<pause-{uid}@pbxops>"
    message.set_content("hello")
    return message


def _stored(sim: SimulatorProcess, uid: str) -> int:
    found = httpx.get(
        f"{sim.base_url}/api/v1/search",
        params={"query": f"to:smtp.{uid}@"},
        headers=sim.admin_headers,
    )
    return int(found.json()["messages_count"])


async def test_smtp_stops_and_starts_while_http_stays_up(sim: SimulatorProcess, uid: str) -> None:
    assert sim.client.post("/admin/smtp/stop").json() == {"listening": False}
    assert sim.client.get("/admin/smtp").json() == {"listening": False}
    with pytest.raises((aiosmtplib.SMTPConnectError, OSError)):
        await aiosmtplib.send(_message(uid), hostname="127.0.0.1", port=sim.smtp_port, timeout=5)
    assert sim.client.get("/healthz").status_code == 200
    assert _stored(sim, uid) == 0

    assert sim.client.post("/admin/smtp/start").json() == {"listening": True}
    assert sim.client.post("/admin/smtp/start").json() == {"listening": True}  # idempotent
    await aiosmtplib.send(_message(uid), hostname="127.0.0.1", port=sim.smtp_port, timeout=5)

    wait_for(lambda: _stored(sim, uid) == 1)
    assert httpx.post(f"{sim.base_url}/admin/smtp/stop").status_code == 401  # token required


def test_a_simulator_with_smtp_stopped_still_stops_gracefully(tmp_path) -> None:
    with SimulatorProcess(tmp_path / "sim.db") as sim:
        sim.client.post("/admin/smtp/stop").raise_for_status()
        assert sim.stop() == 0
