"""The mail activity: real SMTP with aiosmtplib.

SMTP has no idempotency key, so the message's Message-ID is derived from the activity's
idempotency key: a retry after the server accepted the message (the only window for a duplicate)
resends the same Message-ID, and the mail store drops it (the simulator does, as Mailpit does with
``--ignore-duplicate-ids``). Every recipient is in one message so a retry never splits a fan-out.

Internationalised addresses (``user@bücher.example``): sent with SMTPUTF8 where the server offers
it, else with the domain in IDNA (``user@xn--bcher-kva.example``); a non-ASCII local part to a
server without SMTPUTF8 cannot be delivered and fails at once, saying so.

What can fail, and how (``mail_failure``): a server that is down, busy or answers 4xx is retried
by the activity's policy (``MailUnavailable``); a permanent 5xx answer, a server that cannot carry
the address, or a header that cannot be written (a name with a line break) fails at once,
non-retryable, with the server's or the header's reason (``MailRejected``, ``MailHeaderUnsafe``).
"""

import socket
from datetime import timedelta
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate
from typing import Any

import aiosmtplib
from temporalio import activity
from temporalio.exceptions import ApplicationError

from pbxops.activities import emails
from pbxops.activities.codes import CodeVault, run_context
from pbxops.activities.idempotency import idempotency_key, message_id
from pbxops.activities.locales import STAFF, Locales, Place
from pbxops.activities.mime import MAIL_POLICY
from pbxops.contracts.deletion import CodeEmail, DeletionActivities
from pbxops.contracts.emails import Audience, EmailActivities, TemplatedEmail
from pbxops.contracts.mail import EmailMessage, EmailSent, ascii_address
from pbxops.contracts.pbx import ActivityNames
from pbxops.contracts.text import UnsafeText, check_single_line


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
        """Send; a non-ASCII address goes with SMTPUTF8 when the server offers it (aiosmtplib
        asks for it), else again with its domain in IDNA, else ``SMTPNotSupported``."""
        try:
            await self._send(message)
        except aiosmtplib.SMTPNotSupported:
            ascii_message = _with_ascii_addresses(message)
            if ascii_message is None:
                raise
            await self._send(ascii_message)

    async def _send(self, message: MimeMessage) -> None:
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


def _with_ascii_addresses(message: MimeMessage) -> MimeMessage | None:
    """A copy with every From/To/Cc address's domain in IDNA; None when a local part is not
    ASCII (nothing but SMTPUTF8 can carry it)."""
    copy = MimeMessage()
    for name, value in message.items():
        if name.lower() in ("from", "to", "cc"):
            found = [ascii_address(a.addr_spec) for a in getattr(value, "addresses", ())]
            if not found or None in found:
                return None
            value = ", ".join(a for a in found if a)
        copy[name] = value
    copy.set_payload(message.get_payload())
    return copy


def mail_failure(err: Exception) -> ApplicationError:
    """What a failed send means for the activity: retried only when a retry can help."""
    if isinstance(err, aiosmtplib.SMTPNotSupported):
        return ApplicationError(
            f"the mail server cannot take this message: {err}", type="MailRejected",
            non_retryable=True,
        )  # fmt: skip
    code = getattr(err, "code", None)
    if isinstance(err, aiosmtplib.SMTPResponseException) and isinstance(code, int) and code >= 500:
        reason = " ".join(str(getattr(err, "message", "")).split())[:300]
        return ApplicationError(
            f"the mail server refused the message: {code} {reason}".rstrip(),
            type="MailRejected",
            non_retryable=True,
        )
    # Down, unreachable, busy (4xx) or cut off: the activity's policy retries until it is back.
    return ApplicationError(f"mail server unavailable: {err}", type="MailUnavailable")


def header_unsafe(what: str, err: Exception) -> ApplicationError:
    return ApplicationError(
        f"the email cannot be written: {what} {err}".rstrip(),
        type="MailHeaderUnsafe",
        non_retryable=True,
    )


def checked_header(value: str, what: str) -> str:
    """A value for a header, one line or a non-retryable failure (never retried forever)."""
    try:
        return check_single_line(value, what)
    except UnsafeText as err:
        raise header_unsafe("", err) from None


def plan(
    request: TemplatedEmail, place: Place, locales: Locales, key: str
) -> list[tuple[list[str], Place, str]]:
    """Who gets which language, under which idempotency key: the customer's recipients one
    message in ``place`` (key ``key``), the provider's staff one in English (``key/staff``)."""
    customers = [str(a) for a in request.to if not locales.is_staff(str(a))]
    staff = [str(a) for a in request.to if locales.is_staff(str(a))]
    staff += [str(a) for a in request.staff_to if str(a) not in customers + staff]
    if place.language == STAFF.language:
        customers, staff = customers + staff, []
    groups: list[tuple[list[str], Place, str]] = []
    if customers:
        groups.append((customers, place, key))
    if staff:
        # The staff copy keeps the tenant's time zone: times are the tenant's times.
        groups.append((staff, Place(STAFF.language, place.timezone), f"{key}/staff"))
    return groups


class MailActivities:
    def __init__(
        self,
        sender: SmtpSender,
        mail_from: str,
        vault: CodeVault,
        locales: Locales | None = None,
    ) -> None:
        self._sender = sender
        self._from = mail_from
        self._vault = vault
        self._locales = locales or Locales(None)

    def _build(self, email: EmailMessage, msg_id: str) -> MimeMessage:
        mime = MimeMessage(policy=MAIL_POLICY)
        headers: dict[str, Any] = {
            "From": self._from,
            "To": ", ".join(checked_header(str(a), "the recipient") for a in email.to),
            "Subject": checked_header(email.subject, "the subject"),
            "Date": formatdate(localtime=False, usegmt=True),
            "Message-ID": msg_id,
        }
        try:
            for name, value in headers.items():
                mime[name] = value
        except (ValueError, IndexError) as err:  # the stdlib's own refusal of a header
            raise header_unsafe(f"{name}:", err) from None
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

    @activity.defn(name=EmailActivities.SEND_TEMPLATE)
    async def send_template(self, request: TemplatedEmail) -> EmailSent:
        """A customer email rendered here from its template, in the customer's language.

        The customer's recipients get one message (Message-ID from this step's idempotency key,
        as ``mail.send`` gives); the provider's staff among the recipients, and ``staff_to``, get
        the English one (Message-ID ``<key>/staff``). A retry renders and sends the same ones.
        """
        return await self.deliver_template(request, idempotency_key())

    async def deliver_template(self, request: TemplatedEmail, key: str) -> EmailSent:
        """``send_template`` for activities that send an email as one part of their step."""
        place = await self._locales.resolve(request.audience)
        groups = plan(request, place, self._locales, key)
        for to, where, group_key in groups:
            rendered = emails.render(
                request.template, request.values, language=where.language, timezone=where.timezone
            )
            email = EmailMessage(
                to=to, subject=rendered.subject, text=rendered.text, html=rendered.html
            )
            await self._deliver(email, message_id(group_key, domain="pbxops"))
        recipients = sum(len(to) for to, _, _ in groups)
        activity.logger.info(
            "sent %s (%s) to %d recipient(s)", request.template.value, place.language, recipients
        )
        return EmailSent(message_id=message_id(key, domain="pbxops"), recipients=recipients)

    @activity.defn(name=DeletionActivities.SEND_CODE)
    async def send_deletion_code(self, request: CodeEmail) -> EmailSent:
        """One message per Admin (addresses stay private), each with its own stable Message-ID.

        The code is unsealed here and only here; a retry unseals the same code and resends the
        same Message-IDs, so every Admin sees one email with the one valid code.
        """
        code = self._vault.open(request.sealed, run_context())
        place = await self._locales.resolve(Audience(tenant_id=request.tenant_id))
        # "Valid 1 hour from the email": from when the step was first scheduled, the same on every
        # retry, and never later than the workflow's own expiry (counted once the email is sent).
        expires_at = activity.info().scheduled_time + timedelta(minutes=request.valid_minutes)
        rendered = emails.deletion_code(
            request.tenant_name,
            request.tenant_id,
            code,
            request.valid_minutes,
            expires_at=expires_at,
            language=place.language,
            timezone=place.timezone,
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
        message = self._build(email, msg_id)
        try:
            await self._sender.send(message)
        except aiosmtplib.SMTPRecipientsRefused as err:
            raise ApplicationError(
                f"the mail server refused every recipient: {err.recipients}",
                type="MailRejected",
                non_retryable=True,
            ) from err
        except (aiosmtplib.SMTPException, OSError) as err:
            raise mail_failure(err) from err
