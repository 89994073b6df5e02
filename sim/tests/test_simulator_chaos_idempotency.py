"""A client killed mid-request must not poison its Idempotency-Key.

Found by the chaos suite: a worker SIGKILLed while sending a POST left the simulator holding the
app's 400 "error parsing the body" under the step's key, and every retry of the step (same key)
got that 400 replayed, a non-retryable refusal, so the procedure failed. The answer to a request
whose body never fully arrived is no longer stored; a complete request's answer still is.
"""

import json
import socket
import time
from urllib.parse import urlparse

import httpx
from pbxsim.testing import SimulatorProcess


def _cut_off_post(sim: SimulatorProcess, path: str, key: str, body: bytes) -> None:
    """Send the headers and half the body, then die (close the socket), as a killed client."""
    address = urlparse(sim.base_url)
    with socket.create_connection((address.hostname, address.port)) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {address.netloc}\r\n"
            f"Authorization: Bearer {sim.auth_headers['Authorization'].split()[1]}\r\n"
            f"Idempotency-Key: {key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        sock.sendall(head.encode() + body[: len(body) // 2])
        time.sleep(0.3)


def test_a_request_cut_off_mid_body_leaves_the_key_free(
    sim: SimulatorProcess, client: httpx.Client, uid: str
) -> None:
    ticket = {"subject": f"cut {uid}", "body": "b", "tenant_id": f"t-{uid}"}
    key = f"cut-{uid}"
    _cut_off_post(sim, "/helpdesk/tickets", key, json.dumps(ticket).encode())
    time.sleep(0.5)  # let the simulator notice the disconnect and answer into the void

    retried = client.post("/helpdesk/tickets", json=ticket, headers={"Idempotency-Key": key})

    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers
    again = client.post("/helpdesk/tickets", json=ticket, headers={"Idempotency-Key": key})
    assert again.headers["idempotent-replayed"] == "true" and again.json() == retried.json()
    found = client.get("/helpdesk/tickets", params={"tenant_id": f"t-{uid}"}).json()
    assert len(found) == 1
