"""The mail activity: real SMTP with aiosmtplib.

SMTP has no idempotency key, so the message's Message-ID is derived from the activity's
idempotency key: a retry after the server accepted the message (the only window for a duplicate)
resends the same Message-ID, and the mail store drops it (the simulator does, as Mailpit does with
``--ignore-duplicate-ids``). Every recipient is in one message so a retry never splits a fan-out.
"""

from email.message import EmailMessage as MimeMessage
from email.utils import formatdate

import aiosmtplib
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.idempotency import idempotency_key, message_id
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
    ) -> None:
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._start_tls = start_tls
        self._timeout = timeout

    async def send(self, message: MimeMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
            start_tls=self._start_tls,
            timeout=self._timeout,
        )


class MailActivities:
    def __init__(self, sender: SmtpSender, mail_from: str) -> None:
        self._sender = sender
        self._from = mail_from

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
        activity.logger.info("sent mail %s to %d recipient(s)", msg_id, len(email.to))
        return EmailSent(message_id=msg_id, recipients=len(email.to))
