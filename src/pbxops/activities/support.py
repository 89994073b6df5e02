"""Activities for support contacts and problem reports on the reseller portal.

The platform enforces the source's rules (who may change contacts, at least one contact, valid
addresses) and answers a refusal as a 4xx: a non-retryable error carrying its own sentence.
"""

from typing import Any
from urllib.parse import quote

import httpx
from temporalio import activity

from pbxops.activities.http import request
from pbxops.activities.idempotency import idempotency_key
from pbxops.activities.platform_text import address, header_text
from pbxops.contracts.support import (
    ContactAction,
    ProblemReportCreated,
    ProblemReportInput,
    SupportActivityNames,
    SupportContact,
    SupportContactsChangeInput,
    SupportContactsChangeResult,
)


def _contact(body: dict[str, Any]) -> SupportContact:
    """A contact the problem report is mailed to: its address and name checked first."""
    contact = SupportContact.model_validate(body)
    address(contact.email, "email address of a support contact")
    if contact.name is not None:
        header_text(contact.name, "name of a support contact")
    return contact


class SupportActivities:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    @activity.defn(name=SupportActivityNames.CHANGE_CONTACTS)
    async def change_contacts(self, inp: SupportContactsChangeInput) -> SupportContactsChangeResult:
        tail = "/remove" if inp.action is ContactAction.REMOVE else ""
        body = await request(
            self._client,
            "POST",
            f"/pbx/customers/{quote(inp.account_id, safe='')}/support-contacts{tail}",
            json={
                "contact": inp.contact.model_dump(exclude_none=True),
                "acting_as": inp.acting_as.value,
                "acting_user": inp.acting_user,
            },
            idempotency_key=idempotency_key(),
        )
        return SupportContactsChangeResult(
            account_id=body["account_id"],
            action=inp.action,
            changed=body["changed"],
            contacts=[SupportContact.model_validate(c) for c in body["contacts"]],
        )

    @activity.defn(name=SupportActivityNames.CREATE_REPORT)
    async def create_report(self, inp: ProblemReportInput) -> ProblemReportCreated:
        """Record the report (once per report id) and read who must hear about it."""
        account = quote(inp.account_id, safe="")
        body = await request(
            self._client,
            "PUT",
            f"/pbx/customers/{account}/problem-reports/{quote(inp.report_id, safe='')}",
            json={
                "application": inp.application,
                "description": inp.description,
                "reported_by": inp.reported_by,
            },
            idempotency_key=idempotency_key(),
        )
        return ProblemReportCreated(
            report_id=body["report_id"],
            account_id=body["account_id"],
            customer_name=header_text(body["customer_name"], f"name of account '{account}'"),
            created_at=body["created_at"],
            contacts=[_contact(c) for c in body["contacts"]],
        )
