"""The shared deadline helper: wait for something; past the SLA open one ticket and keep waiting.

Waiting is callback-first. The platform reports the end of its job (webhook → Signal), so a
procedure that finishes in time costs one timer and one signal whatever the wait. Behind the
callback runs a slow *safety poll*, for a callback lost for good:

- the first at the SLA deadline, so a ticket is only opened once the platform confirmed it is
  really not done;
- after the breach a person owns the ticket and the platform keeps retrying its callback, so the
  polls are rare: the first a day after the deadline (or the SLA's own length, if longer), each
  later one twice as far as the one before (at most a week apart), and a last one at the hard
  cap. A stuck platform costs a handful of polls a month, and the billable actions of a late
  procedure stay within 1.5 times its logical minimum (docs/benchmarks.md, section 2;
  ``make bench-actions``).

Never a loop of short activities. Every timer this helper starts ends in a poll, whatever its
length: replaying a history recorded under another poll schedule therefore meets the same
commands in the same order (only the timers' lengths differ, which replay does not compare).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pbxops.contracts import search_attributes as sa
    from pbxops.contracts.helpdesk import CommentOnTicket, OpenTicket, ResolveTicket
    from pbxops.contracts.text import UNSAFE_PLATFORM_DATA, defused

from pbxops.workflows import calls

MIN_POLL_GAP_AFTER_BREACH = timedelta(days=1)
MAX_POLL_GAP = timedelta(days=7)
_MIN_WAIT = timedelta(seconds=1)

# A procedure that meets a name or an address from the platform that cannot go into an email
# ends at once (``UnsafePlatformData``, never retried); since this change it also opens one
# support ticket, or nobody would learn that a customer's procedure stopped on bad platform data.
# The patch is asked only when such a failure happens, so runs that never meet one record no
# marker. One id for every procedure.
TICKET_ON_UNSAFE_PLATFORM_DATA = "ticket-on-unsafe-platform-data"


@dataclass(frozen=True)
class SlaWindow:
    deadline: datetime
    """Past this, the support ticket is opened."""
    hard_cap_at: datetime
    """Past this, the procedure stops waiting and fails."""
    min_poll_gap_after_breach: timedelta = MIN_POLL_GAP_AFTER_BREACH


class HardCapReached(Exception):
    pass


async def wait_with_sla(
    *,
    reached: Callable[[], bool],
    poll: Callable[[], Awaitable[bool]],
    window: SlaWindow,
    on_breach: Callable[[], Awaitable[None]],
    what: str,
) -> None:
    """Return once ``reached()`` holds (or a safety ``poll()`` says so).

    ``on_breach`` runs once when the deadline passes; ``HardCapReached`` is raised at the cap.
    """
    if reached():
        return
    next_poll_at = window.deadline
    gap = max(window.deadline - workflow.now(), _MIN_WAIT)  # the SLA itself
    breached = False
    while True:
        wake_at = min(next_poll_at, window.hard_cap_at)
        try:
            await workflow.wait_condition(
                reached,
                timeout=max(wake_at - workflow.now(), _MIN_WAIT),
                timeout_summary=f"until {what}",
            )
            return
        except TimeoutError:
            pass
        # Every wake-up is a poll time: the deadline, a safety poll, or the hard cap.
        now = workflow.now()
        if await poll():
            return
        if now >= window.hard_cap_at:
            raise HardCapReached(what)
        gap = min(max(gap * 2 if breached else gap, window.min_poll_gap_after_breach), MAX_POLL_GAP)
        next_poll_at = now + gap
        if not breached and now >= window.deadline:
            breached = True
            await on_breach()


class Escalation:
    """The support ticket of one procedure: opened at most once, resolved when the work is done."""

    def __init__(self, tenant_id: str) -> None:
        self._tenant_id = tenant_id
        self.ticket_id: str | None = None

    async def open(
        self, subject: str, body: str, *, step: str = "sla-ticket", why: str = "SLA passed"
    ) -> str:
        if self.ticket_id is None:
            ticket = await calls.open_ticket(
                OpenTicket(subject=subject, body=body, tenant_id=self._tenant_id), step=step
            )
            self.ticket_id = ticket.id
            workflow.upsert_search_attributes(
                [sa.ESCALATED.value_set(True), sa.TICKET_ID.value_set(ticket.id)]
            )
            workflow.logger.warning("%s: opened ticket %s", why, ticket.id)
        return self.ticket_id

    async def resolve(self, comment: str) -> None:
        if self.ticket_id is not None:
            await calls.resolve_ticket(
                ResolveTicket(ticket_id=self.ticket_id, comment=comment), step="sla-ticket-resolve"
            )

    async def comment(self, body: str) -> None:
        if self.ticket_id is not None:
            await calls.comment_on_ticket(
                CommentOnTicket(ticket_id=self.ticket_id, body=body), step="sla-ticket-comment"
            )


def is_unsafe_platform_data(err: ActivityError) -> bool:
    """Did the activity refuse a name or an address the platform gave (non-retryable)?"""
    return cause_type(err) == UNSAFE_PLATFORM_DATA


async def ticket_on_unsafe_platform_data(
    escalation: Escalation, err: ActivityError, *, procedure: str, subject: str
) -> str | None:
    """When ``err`` is the platform's unsafe data, open the procedure's one ticket; its id.

    ``procedure`` names what stopped ("the deletion of tenant 'acme'"). The ticket quotes the
    activity's sentence, which names the value and why it is refused but never the value itself
    (defused anyway: an id in it is the platform's too); the activity adds the run's UI link. A
    retried activity or a replay sends the same idempotency key, so the helpdesk keeps one ticket.
    ``None`` for any other failure, and for runs started before the change.
    """
    if not is_unsafe_platform_data(err) or not workflow.patched(TICKET_ON_UNSAFE_PLATFORM_DATA):
        return None
    reason = defused(cause_message(err))
    return await escalation.open(
        subject=defused(subject),
        body=defused(
            f"pbxops stopped {procedure}: {reason}. A person must correct the record on the "
            "platform, then start the procedure again."
        ),
        step="unsafe-platform-data-ticket",
        why="unsafe platform data",
    )


def fail(message: str, kind: str) -> ApplicationError:
    """A procedure failure with a human sentence: shown as-is by the UI and the CLI."""
    return ApplicationError(message, type=kind, non_retryable=True)


def _innermost(err: BaseException) -> ApplicationError | None:
    """The ApplicationError an activity (or a child, or the platform through it) failed with."""
    cause: BaseException | None = err
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = cause.__cause__ or getattr(cause, "cause", None)
    return cause


def cause_message(err: BaseException) -> str:
    """The innermost ApplicationError's message: the platform's (or the PBX's) own sentence."""
    cause = _innermost(err)
    return cause.message if cause is not None else str(err)


def cause_type(err: BaseException) -> str | None:
    """The innermost ApplicationError's type (``UnsafePlatformData``, ``NotFound`` …), if any."""
    cause = _innermost(err)
    return cause.type if cause is not None else None
