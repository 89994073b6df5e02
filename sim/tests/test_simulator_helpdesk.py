"""The helpdesk: tickets opened, commented, resolved and listed by procedures."""

import httpx
from pbxsim.testing import SimulatorProcess


def _open(client: httpx.Client, uid: str, **fields: str) -> dict:
    body = {
        "subject": f"Disattivazione lenta {uid}",
        "body": "The platform has not finished within the SLA.",
        "tenant_id": f"tenant-{uid}",
        "workflow_id": f"pbx-deactivation/{uid}",
        "workflow_url": f"http://127.0.0.1:8233/namespaces/default/workflows/{uid}",
        **fields,
    }
    response = client.post("/helpdesk/tickets", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_ticket_lifecycle(client: httpx.Client, uid: str) -> None:
    ticket = _open(client, uid)
    assert ticket["id"].startswith("T-") and len(ticket["id"]) == 8
    assert ticket["status"] == "open"
    assert ticket["resolved_at"] is None
    assert ticket["comments"] == []
    assert ticket["workflow_id"] == f"pbx-deactivation/{uid}"
    assert client.get(f"/helpdesk/tickets/{ticket['id']}").json() == ticket

    commented = client.post(
        f"/helpdesk/tickets/{ticket['id']}/comments", json={"body": "Still waiting."}
    )
    assert commented.status_code == 201
    assert [c["body"] for c in commented.json()["comments"]] == ["Still waiting."]

    resolved = client.post(
        f"/helpdesk/tickets/{ticket['id']}/resolve", json={"comment": "Deactivated at last."}
    )
    assert resolved.status_code == 200
    body = resolved.json()
    assert body["status"] == "resolved"
    assert body["resolved_at"] is not None
    assert [c["body"] for c in body["comments"]] == ["Still waiting.", "Deactivated at last."]

    # Resolving again changes nothing.
    again = client.post(f"/helpdesk/tickets/{ticket['id']}/resolve", json={"comment": "x"})
    assert again.status_code == 200
    assert again.json() == body


def test_filters_list_newest_first(client: httpx.Client, uid: str) -> None:
    first = _open(client, uid)
    second = _open(client, uid, subject="Second")
    other = _open(client, f"{uid}-other")
    client.post(f"/helpdesk/tickets/{first['id']}/resolve", json={})

    by_workflow = client.get(
        "/helpdesk/tickets", params={"workflow_id": f"pbx-deactivation/{uid}"}
    ).json()
    assert [t["id"] for t in by_workflow] == [second["id"], first["id"]]
    open_ones = client.get(
        "/helpdesk/tickets", params={"status": "open", "tenant_id": f"tenant-{uid}"}
    ).json()
    assert [t["id"] for t in open_ones] == [second["id"]]
    by_tenant = client.get("/helpdesk/tickets", params={"tenant_id": f"tenant-{uid}-other"})
    assert [t["id"] for t in by_tenant.json()] == [other["id"]]
    assert client.get("/helpdesk/tickets", params={"status": "bogus"}).status_code == 422


def test_errors(client: httpx.Client) -> None:
    missing = client.get("/helpdesk/tickets/T-999999")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "ticket 'T-999999' not found"}
    assert client.get("/helpdesk/tickets/nonsense").status_code == 404
    assert client.post("/helpdesk/tickets/T-999999/resolve", json={}).status_code == 404
    assert client.post("/helpdesk/tickets", json={"body": "no subject"}).status_code == 422


def test_html_page_links_the_workflow_and_escapes(sim: SimulatorProcess, uid: str) -> None:
    ticket = _open(sim.client, uid, subject=f"<script>alert('{uid}')</script>")
    page = httpx.get(f"{sim.base_url}/helpdesk")  # open: people follow links in a browser
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert f'<a href="{ticket["workflow_url"]}"' in page.text
    assert "<script>alert" not in page.text
    assert f"&lt;script&gt;alert(&#x27;{uid}&#x27;)&lt;/script&gt;" in page.text
