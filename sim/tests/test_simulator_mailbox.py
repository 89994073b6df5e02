"""The mailbox: real SMTP in, Mailpit-shaped JSON and HTML out, duplicates dropped."""

from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib
import httpx
from pbxsim.mailbox.server import parse_message
from pbxsim.testing import SimulatorProcess, wait_for


def _message(uid: str, to: str, *, subject: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "pbxops <noreply@pbxops.example>"
    message["To"] = f"Giulia Rossi <{to}>, marco.bianchi@acme.example"
    message["Subject"] = subject or f"Servizio disattivato {uid}"
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = f"<{uid}@pbxops>"
    message.set_content(f"Il servizio è stato disattivato. {uid}")
    message.add_alternative(
        f"<p style='color:red'>Il servizio è <b>disattivato</b>. {uid}</p>", subtype="html"
    )
    return message


def _search(sim: SimulatorProcess, query: str) -> dict:
    response = httpx.get(
        f"{sim.base_url}/api/v1/search", params={"query": query}, headers=sim.admin_headers
    )
    response.raise_for_status()
    result: dict = response.json()
    return result


async def test_smtp_message_is_readable_and_stored_once(sim: SimulatorProcess, uid: str) -> None:
    to = f"giulia.{uid}@acme.example"
    await aiosmtplib.send(_message(uid, to), hostname="127.0.0.1", port=sim.smtp_port)

    found = wait_for(lambda: _search(sim, f"to:{to}")["messages"])
    [summary] = found
    assert summary["MessageID"] == f"{uid}@pbxops"
    assert summary["From"] == {"Name": "pbxops", "Address": "noreply@pbxops.example"}
    assert summary["To"] == [
        {"Name": "Giulia Rossi", "Address": to},
        {"Name": "", "Address": "marco.bianchi@acme.example"},
    ]
    assert summary["Subject"] == f"Servizio disattivato {uid}"
    assert summary["Snippet"].startswith("Il servizio è stato disattivato.")
    assert summary["Size"] > 0

    listing = httpx.get(f"{sim.base_url}/api/v1/messages", headers=sim.admin_headers).json()
    assert listing["start"] == 0
    assert listing["count"] == len(listing["messages"]) <= listing["total"]
    assert summary["ID"] in [m["ID"] for m in listing["messages"]]

    detail = httpx.get(
        f"{sim.base_url}/api/v1/message/{summary['ID']}", headers=sim.admin_headers
    ).json()
    assert detail["ID"] == summary["ID"]
    assert detail["Text"].strip() == f"Il servizio è stato disattivato. {uid}"
    assert "<b>disattivato</b>" in detail["HTML"]
    assert detail["Date"].endswith("Z")

    raw = httpx.get(f"{sim.base_url}/api/v1/message/{summary['ID']}/raw", headers=sim.admin_headers)
    assert f"Message-ID: <{uid}@pbxops>" in raw.text

    # A retried send (same Message-ID) is accepted and dropped.
    await aiosmtplib.send(_message(uid, to), hostname="127.0.0.1", port=sim.smtp_port)
    marker = f"marker-{uid}"
    await aiosmtplib.send(
        _message(marker, to, subject=marker), hostname="127.0.0.1", port=sim.smtp_port
    )
    wait_for(lambda: _search(sim, f"subject:{marker}")["messages"])
    assert len(_search(sim, f"to:{to}")["messages"]) == 2  # the original and the marker
    assert len(_search(sim, f"message-id:{uid}@pbxops")["messages"]) == 1


async def test_inbox_pages(sim: SimulatorProcess, uid: str) -> None:
    to = f"inbox.{uid}@acme.example"
    await aiosmtplib.send(
        _message(uid, to, subject=f"<i>{uid}</i>"), hostname="127.0.0.1", port=sim.smtp_port
    )
    [summary] = wait_for(lambda: _search(sim, f"to:{to}")["messages"])
    inbox = httpx.get(f"{sim.base_url}/inbox", headers=sim.admin_headers).text
    assert f"/inbox/{summary['ID']}" in inbox
    assert f"&lt;i&gt;{uid}&lt;/i&gt;" in inbox
    page = httpx.get(f"{sim.base_url}/inbox/{summary['ID']}", headers=sim.admin_headers).text
    # The message's own HTML is isolated in a sandboxed iframe, escaped into srcdoc.
    assert '<iframe sandbox srcdoc="&lt;p style=&#x27;color:red&#x27;&gt;' in page
    assert "<p style='color:red'>" not in page
    assert httpx.get(f"{sim.base_url}/inbox/nope", headers=sim.admin_headers).status_code == 404


def test_unknown_message_and_plain_word_search(sim: SimulatorProcess) -> None:
    missing = httpx.get(f"{sim.base_url}/api/v1/message/does-not-exist", headers=sim.admin_headers)
    assert missing.status_code == 404
    assert _search(sim, "no-such-word-anywhere-xyz")["messages"] == []


async def test_delete_all_messages(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with SimulatorProcess(tmp_path / "mail.db") as own:
        await aiosmtplib.send(
            _message("d1", "a@x.example"), hostname="127.0.0.1", port=own.smtp_port
        )
        wait_for(
            lambda: (
                httpx.get(f"{own.base_url}/api/v1/messages", headers=own.admin_headers).json()[
                    "total"
                ]
                == 1
            )
        )
        assert (
            httpx.delete(f"{own.base_url}/api/v1/messages", headers=own.admin_headers).status_code
            == 200
        )
        assert (
            httpx.get(f"{own.base_url}/api/v1/messages", headers=own.admin_headers).json()["total"]
            == 0
        )


def test_parse_message_without_to_header_uses_the_envelope() -> None:
    raw = b"From: a@x.example\r\nSubject: hi\r\n\r\nbody\r\n"
    parsed = parse_message(raw, ["rcpt@x.example"])
    assert parsed.to == [{"Name": "", "Address": "rcpt@x.example"}]
    assert parsed.text.strip() == "body"
    assert parsed.html == ""
    assert parsed.message_id.endswith("@simulator")


def test_a_subject_folded_right_after_its_colon_has_no_leading_space() -> None:
    # Python folds before the first word when it does not fit the first line: "Subject:" CRLF
    # SP "word…". A mail client shows the subject without the fold's space, so must the mailbox.
    subject = "x" * 30 + " " + "y" * 30 + " Conferma"
    message = EmailMessage()
    message["From"] = "pbxops <noreply@pbxops.example>"
    message["To"] = "anna@acme.example"
    message["Subject"] = subject
    message.set_content("body")
    raw = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    assert b"Subject:\r\n " in raw  # the fold this test is about

    parsed = parse_message(raw)

    assert parsed.subject == subject


def test_a_folded_non_ascii_subject_round_trips() -> None:
    subject = "Codice per confermare l'ELIMINAZIONE del servizio Cloud PBX di Società Uno S.r.l."
    message = EmailMessage()
    message["Subject"] = subject
    message.set_content("body")

    parsed = parse_message(message.as_bytes(policy=message.policy.clone(linesep="\r\n")))

    assert " ".join(parsed.subject.split()) == subject
