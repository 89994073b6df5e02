"""The mail activity: real SMTP with aiosmtplib.

SMTP has no idempotency key, so the message's Message-ID is derived from the activity's
idempotency key: a retry after the server accepted the message (the only window for a duplicate)
resends the same Message-ID, and the mail store drops it (the simulator does, as Mailpit does with
``--ignore-duplicate-ids``). Every recipient is in one message so a retry never splits a fan-out.
"""

import socket
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate

import aiosmtplib
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import emails
from activities.codes import CodeVault, run_context
from activities.idempotency import idempotency_key, message_id
from contracts.deletion import CodeEmail, DeletionActivities
from contracts.mail import EmailMessage, EmailSent
from contracts.pbx import ActivityNames


class SmtpSender:
    """The one place that knows how to reach the SMTP server."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        start_tls: bool = False,
        timeout: float = 10.0,
        local_hostname: str | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._start_tls = start_tls
        self._timeout = timeout
        # The name given in EHLO. Left out, aiosmtplib looks up this host's FQDN (a DNS query, in
        # a thread) for every message; one lookup per process is enough.
        self._local_hostname = local_hostname or socket.getfqdn()

    async def send(self, message: MimeMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
            start_tls=self._start_tls,
            timeout=self._timeout,
            local_hostname=self._local_hostname,
        )


class MailActivities:
    def __init__(self, sender: SmtpSender, mail_from: str, vault: CodeVault) -> None:
        self._sender = sender
        self._from = mail_from
        self._vault = vault

    def _build(self, email: EmailMessage, msg_id: str) -> MimeMessage:
        mime = MimeMessage()
        mime["From"] = self._from
        mime["To"] = ", ".join(str(address) for address in email.to)
        mime["Subject"] = email.subject
        mime["Date"] = formatdate(localtime=False, usegmt=True)
        mime["Message-ID"] = msg_id
        mime.set_content(email.text)
        if email.html:
            mime.add_alternative(email.html, subtype="html")
        return mime

    @activity.defn(name=ActivityNames.MAIL_SEND)
    async def send(self, email: EmailMessage) -> EmailSent:
        msg_id = message_id(idempotency_key(), domain="pbxops")
        await self._deliver(email, msg_id)
        activity.logger.info("sent mail %s to %d recipient(s)", msg_id, len(email.to))
        return EmailSent(message_id=msg_id, recipients=len(email.to))

    @activity.defn(name=DeletionActivities.SEND_CODE)
    async def send_deletion_code(self, request: CodeEmail) -> EmailSent:
        """One message per Admin (addresses stay private), each with its own stable Message-ID.

        The code is unsealed here and only here; a retry unseals the same code and resends the
        same Message-IDs, so every Admin sees one email with the one valid code.
        """
        code = self._vault.open(request.sealed, run_context())
        rendered = emails.deletion_code(
            request.tenant_name, request.tenant_id, code, request.valid_minutes
        )
        key = idempotency_key()
        for address in request.to:
            email = EmailMessage(
                to=[address], subject=rendered.subject, text=rendered.text, html=rendered.html
            )
            await self._deliver(email, message_id(f"{key}/{address}", domain="pbxops"))
        activity.logger.info("sent the deletion code to %d Admin(s)", len(request.to))
        return EmailSent(message_id=message_id(key, domain="pbxops"), recipients=len(request.to))

    async def _deliver(self, email: EmailMessage, msg_id: str) -> None:
        try:
            await self._sender.send(self._build(email, msg_id))
        except aiosmtplib.SMTPRecipientsRefused as err:
            raise ApplicationError(
                f"the mail server refused every recipient: {err.recipients}",
                type="MailRejected",
                non_retryable=True,
            ) from err
        except (aiosmtplib.SMTPException, OSError) as err:
            # Server down or busy: retried by the activity's policy until it is back.
            raise ApplicationError(
                f"mail server unavailable: {err}", type="MailUnavailable"
            ) from err
