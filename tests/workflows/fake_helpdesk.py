"""An in-memory helpdesk and mailbox for workflow tests, under the real activity names.

The fakes of the outside world extend it (``FakePlatform``, ``FakeNumberWorld``): their tests read
``fake.tickets``, ``fake.ticket(id)`` and ``fake.mails`` whatever the procedure. Like the real
helpdesk it honours the idempotency key: a retried or replayed ``open_ticket`` (same workflow run
and activity id) returns the ticket it opened the first time, never a second one.
"""

from dataclasses import dataclass, field
from typing import Any

from temporalio import activity

from pbxops.contracts.emails import EmailActivities, TemplatedEmail
from pbxops.contracts.helpdesk import CommentOnTicket, OpenTicket, ResolveTicket, Ticket
from pbxops.contracts.mail import EmailMessage, EmailSent
from pbxops.contracts.pbx import ActivityNames
from tests.workflows.fake_mail import deliver_all, rendered


def activity_key() -> str:
    """The running activity's idempotency key: workflow id, run id, activity id."""
    info = activity.info()
    return f"{info.workflow_id}/{info.workflow_run_id}/{info.activity_id}"


@dataclass
class FakeTicket:
    id: str
    subject: str
    body: str
    status: str = "open"
    comments: list[str] = field(default_factory=list)


@dataclass
class FakeHelpdesk:
    tickets: list[FakeTicket] = field(default_factory=list)
    mails: list[EmailMessage] = field(default_factory=list)
    _ticket_keys: dict[str, str] = field(default_factory=dict)

    def ticket(self, ticket_id: str) -> FakeTicket:
        return next(t for t in self.tickets if t.id == ticket_id)

    def helpdesk_activities(self) -> list[Any]:
        """Open, comment on and resolve tickets; send email."""
        desk = self

        @activity.defn(name=ActivityNames.HELPDESK_OPEN_TICKET)
        async def open_ticket(ticket: OpenTicket) -> Ticket:
            key = activity_key()
            if key not in desk._ticket_keys:
                created = FakeTicket(f"T-{len(desk.tickets) + 1}", ticket.subject, ticket.body)
                desk.tickets.append(created)
                desk._ticket_keys[key] = created.id
            return Ticket(id=desk._ticket_keys[key], status="open")

        @activity.defn(name=ActivityNames.HELPDESK_COMMENT)
        async def comment(c: CommentOnTicket) -> Ticket:
            desk.ticket(c.ticket_id).comments.append(c.body)
            return Ticket(id=c.ticket_id, status=desk.ticket(c.ticket_id).status)

        @activity.defn(name=ActivityNames.HELPDESK_RESOLVE)
        async def resolve(r: ResolveTicket) -> Ticket:
            ticket = desk.ticket(r.ticket_id)
            ticket.status = "resolved"
            ticket.comments.append(r.comment)
            return Ticket(id=r.ticket_id, status="resolved")

        @activity.defn(name=ActivityNames.MAIL_SEND)
        async def send(email: EmailMessage) -> EmailSent:
            desk.mails.append(email)
            return EmailSent(message_id=f"<{len(desk.mails)}@test>", recipients=len(email.to))

        @activity.defn(name=EmailActivities.SEND_TEMPLATE)
        async def send_template(email: TemplatedEmail) -> EmailSent:
            count = deliver_all(await rendered(email), desk.mails.append)
            return EmailSent(message_id=f"<{len(desk.mails)}@test>", recipients=count)

        return [open_ticket, comment, resolve, send, send_template]
