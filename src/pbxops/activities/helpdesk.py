"""Activities that open, comment on and resolve support tickets in the helpdesk."""

from urllib.parse import quote

import httpx
from temporalio import activity

from pbxops.activities.http import request
from pbxops.activities.idempotency import idempotency_key, workflow_of_activity
from pbxops.contracts.helpdesk import CommentOnTicket, OpenTicket, ResolveTicket, Ticket
from pbxops.contracts.pbx import ActivityNames
from pbxops.runtime.links import workflow_url


class HelpdeskActivities:
    def __init__(self, client: httpx.AsyncClient, ui_url: str) -> None:
        self._client = client
        self._ui_url = ui_url

    def _ticket(self, body: dict) -> Ticket:
        return Ticket(id=body["id"], status=body["status"], url=body.get("workflow_url"))

    @activity.defn(name=ActivityNames.HELPDESK_OPEN_TICKET)
    async def open_ticket(self, ticket: OpenTicket) -> Ticket:
        """Open one ticket per escalation: a retry replays the same key and gets the same ticket."""
        namespace, workflow_id, run_id = workflow_of_activity()
        # The run that opened the ticket, not whichever reuses the workflow id later.
        link = workflow_url(self._ui_url, namespace, workflow_id, run_id)
        body = await request(
            self._client,
            "POST",
            "/helpdesk/tickets",
            json={
                "subject": ticket.subject,
                "body": f"{ticket.body}\n\nFollow the procedure in Temporal: {link}",
                "tenant_id": ticket.tenant_id,
                "workflow_id": workflow_id,
                "workflow_url": link,
            },
            idempotency_key=idempotency_key(),
        )
        activity.logger.info("opened ticket %s", body["id"])
        return self._ticket(body)

    @activity.defn(name=ActivityNames.HELPDESK_COMMENT)
    async def comment(self, comment: CommentOnTicket) -> Ticket:
        body = await request(
            self._client,
            "POST",
            f"/helpdesk/tickets/{quote(comment.ticket_id, safe='')}/comments",
            json={"body": comment.body},
            idempotency_key=idempotency_key(),
        )
        return self._ticket(body)

    @activity.defn(name=ActivityNames.HELPDESK_RESOLVE)
    async def resolve(self, resolution: ResolveTicket) -> Ticket:
        body = await request(
            self._client,
            "POST",
            f"/helpdesk/tickets/{quote(resolution.ticket_id, safe='')}/resolve",
            json={"comment": resolution.comment},
            idempotency_key=idempotency_key(),
        )
        activity.logger.info("resolved ticket %s", body["id"])
        return self._ticket(body)
