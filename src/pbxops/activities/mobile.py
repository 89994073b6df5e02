"""Mobile-line (eSIM) activities: provision a line, issue/expire activation codes, delete a device.

The platform's SM-DP+ side generates each code (its matching id). The activity that asks for a
code also delivers it, in the same attempt: it emails the user the QR code (PNG, ``segno``) with
the activation instructions, or, when the organisation suppresses emails, leaves it at the
platform for the operator's CLI to read with the operator's credentials. Either way the code never
leaves this activity: it returns only the code's id and an HMAC of it (``CodeVault``), so it never
reaches workflow history, the logs or the UI.

Retries are safe: every platform call carries an idempotency key derived from the workflow step, so
a retried attempt gets the *same* code back (the platform replays its answer), and the email's
Message-ID derives from the same key, so the mail store drops a resent duplicate.
"""

import base64
import io
from datetime import datetime
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate
from typing import Any
from urllib.parse import quote

import aiosmtplib
import httpx
import segno
from temporalio import activity

from pbxops.activities import emails
from pbxops.activities.codes import CodeVault
from pbxops.activities.http import request
from pbxops.activities.idempotency import idempotency_key, message_id, workflow_of_activity
from pbxops.activities.locales import Locales
from pbxops.activities.mail import SmtpSender, mail_failure
from pbxops.activities.mime import MAIL_POLICY
from pbxops.contracts.emails import Audience, EmailTemplate
from pbxops.contracts.mail import check_address
from pbxops.contracts.mobile import (
    CodeIssued,
    CodeReason,
    CodeState,
    Delivery,
    DeviceDeleted,
    DeviceRef,
    DeviceSnapshot,
    DeviceStatus,
    ExpireCode,
    IssueCode,
    MobileActivityNames,
    ProvisionLine,
    lpa_string,
)
from pbxops.contracts.text import check_single_line
from pbxops.runtime.callback_auth import CallbackSigner, job_ref

# Which email a new code goes out with.
_CODE_EMAILS = {
    CodeReason.PROVISION: EmailTemplate.ESIM_ACTIVATION,
    CodeReason.LOST_STOLEN: EmailTemplate.ESIM_LOST_STOLEN,
}


def qr_png(lpa: str, scale: int = 6) -> bytes:
    """The activation code as a QR code PNG (error correction M, as eSIM QR codes use)."""
    buffer = io.BytesIO()
    segno.make(lpa, error="m", micro=False).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def snapshot(device: dict[str, Any]) -> DeviceSnapshot:
    latest = device.get("latest_code") or {}
    return DeviceSnapshot(
        device_id=device["id"],
        tenant_id=device["tenant_id"],
        user_id=device["user_id"],
        number=device["number"],
        status=DeviceStatus(device["status"]),
        event_seq=device.get("event_seq", 0),
        current_code_id=latest.get("code_id"),
        current_code_state=CodeState(latest["state"]) if latest.get("state") else None,
        licences_available=device.get("licences_available"),
    )


def _device_path(device_id: str) -> str:
    return f"/pbx/mobile/devices/{quote(device_id, safe='')}"


class MobileActivities:
    def __init__(
        self,
        client: httpx.AsyncClient,
        sender: SmtpSender,
        mail_from: str,
        vault: CodeVault,
        callback_base_url: str,
        signer: CallbackSigner,
        *,
        locales: Locales | None = None,
    ) -> None:
        self._client = client
        self._signer = signer
        self._locales = locales or Locales(client)
        self._sender = sender
        self._from = mail_from
        self._vault = vault
        self._callback_base_url = callback_base_url.rstrip("/")

    # --- activities -----------------------------------------------------------------------------

    @activity.defn(name=MobileActivityNames.PROVISION)
    async def provision(self, line: ProvisionLine) -> CodeIssued:
        """Assign a licence to the user (a new device), then issue and deliver its first code."""
        _, workflow_id, _ = workflow_of_activity()
        key = f"{idempotency_key()}/device"
        # The line's credential: phone events for this line's whole life come back with it.
        callback = self._signer.url(self._callback_base_url, "mobile", workflow_id, job_ref(key))
        await request(
            self._client,
            "PUT",
            _device_path(line.device_id),
            json={"tenant_id": line.tenant_id, "user_id": line.user_id, "callback_url": callback},
            idempotency_key=key,
        )
        return await self._issue(
            IssueCode(device_id=line.device_id, reason=CodeReason.PROVISION, validity=line.validity)
        )

    @activity.defn(name=MobileActivityNames.ISSUE_CODE)
    async def issue_code(self, req: IssueCode) -> CodeIssued:
        """A new code (invalidating every earlier one), delivered by email or left for the
        operator. For a lost or stolen phone the platform first takes the line off that phone."""
        return await self._issue(req)

    @activity.defn(name=MobileActivityNames.EXPIRE_CODE)
    async def expire_code(self, req: ExpireCode) -> DeviceSnapshot:
        """The code's 90 days are over: the platform marks it expired (a no-op if it was used)."""
        device = await request(
            self._client,
            "POST",
            f"{_device_path(req.device_id)}/activation-codes/{quote(req.code_id, safe='')}/expire",
            idempotency_key=idempotency_key(),
        )
        return snapshot(device)

    @activity.defn(name=MobileActivityNames.GET_DEVICE)
    async def get_device(self, ref: DeviceRef) -> DeviceSnapshot:
        return snapshot(await request(self._client, "GET", _device_path(ref.device_id)))

    @activity.defn(name=MobileActivityNames.DELETE_DEVICE)
    async def delete_device(self, ref: DeviceRef) -> DeviceDeleted:
        """Delete the device (its licence returns to the pool) and tell the user to remove the
        deactivated line from the phone by hand (unless the organisation suppresses emails)."""
        key = idempotency_key()
        deleted = await request(
            self._client, "DELETE", _device_path(ref.device_id), idempotency_key=key
        )
        device = snapshot(deleted["device"])
        user = deleted.get("user")
        note = ""
        notified = False
        if deleted["suppress_emails"]:
            note = "the organisation suppresses emails: tell the user to remove the line by hand"
        elif not user or not user.get("email"):
            note = "the user has no email address: tell them to remove the line by hand"
        else:
            notified, note = await self._send(
                key,
                user["email"],
                EmailTemplate.ESIM_LINE_DELETED,
                {"greeting_name": user["name"], "number": device.number},
                tenant_id=device.tenant_id,
            )
        activity.logger.info(
            "deleted mobile device %s (user notified: %s)", ref.device_id, notified
        )
        return DeviceDeleted(
            device=device,
            licences_available=deleted["licences_available"],
            user_notified=notified,
            note=note,
        )

    # --- helpers --------------------------------------------------------------------------------

    async def _issue(self, req: IssueCode) -> CodeIssued:
        _, workflow_id, _ = workflow_of_activity()
        key = f"{idempotency_key()}/code"
        issued = await request(
            self._client,
            "POST",
            f"{_device_path(req.device_id)}/activation-codes",
            json={"reason": req.reason.value, "validity_seconds": req.validity.total_seconds()},
            idempotency_key=key,
        )
        code_id: str = issued["code_id"]
        # The secret: kept in local variables only, never logged, never returned.
        secret: str = issued["activation_code"]
        device = snapshot(issued["device"])
        if issued["suppress_emails"]:
            delivery, note = Delivery.OPERATOR, "the organisation suppresses emails"
        elif not issued["user"].get("email"):
            delivery, note = Delivery.OPERATOR, "the user has no email address"
        else:
            sent, note = await self._send(
                key,
                issued["user"]["email"],
                _CODE_EMAILS.get(req.reason, EmailTemplate.ESIM_NEW_CODE),
                {
                    "greeting_name": issued["user"]["name"],
                    "number": device.number,
                    "smdp_address": issued["smdp_address"],
                    "matching_id": issued["matching_id"],
                    "lpa": lpa_string(issued["smdp_address"], issued["matching_id"]),
                    "expires_at": _parse_time(issued["expires_at"]),
                },
                tenant_id=device.tenant_id,
                qr=qr_png(secret),
            )
            delivery = Delivery.EMAIL if sent else Delivery.OPERATOR
        activity.logger.info(
            "issued activation code %s for %s (%s)", code_id, req.device_id, delivery.value
        )
        return CodeIssued(
            code_id=code_id,
            digest=self._vault.digest(secret, f"{workflow_id}/{code_id}"),
            smdp_address=issued["smdp_address"],
            platform_expires_at=_parse_time(issued["expires_at"]),
            delivery=delivery,
            delivery_note=note,
            device=device,
        )

    async def _send(
        self,
        key: str,
        to: str,
        template: EmailTemplate,
        values: dict[str, Any],
        *,
        tenant_id: str,
        qr: bytes | None = None,
    ) -> tuple[bool, str]:
        """Send one message in the tenant's language; (sent, note). A refused address is a note,
        not a failure: the operator then hands the code over. A server that is down is retried
        (same Message-ID)."""
        try:
            to = check_address(to, "the user's email address")
        except ValueError as err:  # the platform's record: the operator hands the code over
            return False, f"not emailed: {err}"
        place = await self._locales.resolve(Audience(tenant_id=tenant_id))
        if qr is not None:
            values = {**values, "qr_png_base64": base64.b64encode(qr).decode()}
        rendered = emails.render(template, values, language=place.language, timezone=place.timezone)
        try:
            subject = check_single_line(rendered.subject, "the subject")
        except ValueError as err:
            return False, f"not emailed: {err}"
        mime = MimeMessage(policy=MAIL_POLICY)
        mime["From"] = self._from
        mime["To"] = to
        mime["Subject"] = subject
        mime["Date"] = formatdate(localtime=False, usegmt=True)
        mime["Message-ID"] = message_id(key, domain="pbxops")
        mime.set_content(rendered.text)
        mime.add_alternative(rendered.html, subtype="html")
        if qr is not None:
            # Also attached, for mail clients that block inline data: images.
            mime.add_attachment(
                qr, maintype="image", subtype="png", filename="esim-activation-qr.png"
            )
        try:
            await self._sender.send(mime)
        except aiosmtplib.SMTPRecipientsRefused:
            return False, "the mail server refused the user's address"
        except (aiosmtplib.SMTPException, OSError) as err:
            raise mail_failure(err) from None
        return True, ""


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
