"""The templated-email activity for workflow tests: the real rendering, no SMTP.

Renders a ``TemplatedEmail`` exactly as ``mail.send_template`` does (same templates, catalogues,
language and staff rules; no platform lookup, so a tenant without a known country reads
English) and hands each message to the fake's mailbox.
"""

from collections.abc import Callable

from pbxops.activities import emails
from pbxops.activities.locales import Locales
from pbxops.activities.mail import plan
from pbxops.contracts.emails import TemplatedEmail
from pbxops.contracts.mail import EmailMessage

# The provider's staff domain, as the worker's default settings have it.
LOCALES = Locales(None, staff_domains=["provider.example"])


async def rendered(email: TemplatedEmail) -> list[EmailMessage]:
    place = await LOCALES.resolve(email.audience)
    messages = []
    for to, where, _ in plan(email, place, LOCALES, "key"):
        text = emails.render(
            email.template, email.values, language=where.language, timezone=where.timezone
        )
        messages.append(EmailMessage(to=to, subject=text.subject, text=text.text, html=text.html))
    return messages


def deliver_all(messages: list[EmailMessage], deliver: Callable[[EmailMessage], None]) -> int:
    for message in messages:
        deliver(message)
    return sum(len(m.to) for m in messages)
