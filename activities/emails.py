"""The emails procedures send, as text and HTML. Pure functions: easy to read and to test."""

from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def deletion_code(tenant_name: str, tenant_id: str, code: str, valid_minutes: int) -> Rendered:
    """The confirmation code, large and centred; says what confirming does and that it is final."""
    subject = f"Code to confirm the DELETION of the Cloud PBX service of {tenant_name}"
    warning = (
        "Confirming erases all data of the service (extensions, users, recordings), releases its "
        "numbers, zeroes its usage and stops its billing. Once confirmed, it cannot be undone."
    )
    validity = f"The code is valid for {valid_minutes} minutes from this email."
    ignore = (
        "If you did not ask for this deletion, do not share the code: without it nothing "
        "happens, and the request expires by itself."
    )
    text = "\n\n".join(
        [
            f"A deletion of the Cloud PBX service of {tenant_name} ({tenant_id}) was requested.",
            f"Confirmation code: {code}",
            validity,
            warning,
            ignore,
        ]
    )
    html = f"""<!doctype html>
<html><body style="font-family: Arial, sans-serif; color: #222; max-width: 560px; margin: auto;">
  <p>A deletion of the Cloud PBX service of <b>{escape(tenant_name)}</b>
     ({escape(tenant_id)}) was requested.</p>
  <p style="text-align: center; margin: 32px 0 8px;">Confirmation code</p>
  <p style="text-align: center; font-size: 40px; font-weight: bold; letter-spacing: 8px;
            font-family: 'Courier New', monospace; margin: 0 0 32px;">{escape(code)}</p>
  <p style="text-align: center;">{escape(validity)}</p>
  <p style="background: #fdecea; border-left: 4px solid #d93025; padding: 12px;">
     <b>This cannot be undone.</b> {escape(warning)}</p>
  <p style="color: #666; font-size: 13px;">{escape(ignore)}</p>
</body></html>
"""
    return Rendered(subject, text, html)
