"""Typed calls to activities, with their timeouts and retry policies in one place.

Workflows call activities by name (``pbxops.contracts.pbx.ActivityNames``), so workflow code never
imports an activity's HTTP or SMTP client. Every mutating call gets an explicit ``activity_id``
naming its step: the activity derives its idempotency key from it.
"""

from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from pbxops.contracts.calendar import CALENDAR_DEADLINE, BusinessDeadline, Deadline
    from pbxops.contracts.deletion import (
        CodeCheck,
        CodeEmail,
        DeletionActivities,
        IssueCode,
        IssuedCode,
        Purged,
        PurgeReport,
        PurgeRequest,
        PurgeStep,
        TenantAdmins,
        TenantLines,
    )
    from pbxops.contracts.emails import EmailActivities, TemplatedEmail
    from pbxops.contracts.helpdesk import CommentOnTicket, OpenTicket, ResolveTicket, Ticket
    from pbxops.contracts.mail import EmailMessage, EmailSent
    from pbxops.contracts.pbx import (
        ActivityNames,
        ServiceSnapshot,
        TenantRef,
        TransitionAccepted,
        TransitionRequest,
    )
    from pbxops.contracts.wording import plural

T = TypeVar("T")

# Transient platform errors (5xx, timeouts) are retried with back-off up to 30 s apart; 4xx answers
# are non-retryable ApplicationErrors raised by the activity and end the attempt at once.
PLATFORM_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)
# A request or a ticket must get through eventually; give the platform an hour of outages.
MUST_SUCCEED = timedelta(hours=1)
# A safety poll that fails is not fatal: the next one (or the callback) will do.
BEST_EFFORT = timedelta(minutes=5)
PER_ATTEMPT = timedelta(seconds=30)
# A step someone is waiting on (a provisioning saga's forward step, a contact change): a quarter of
# an hour of platform outages, then it fails and is undone or reported.
FORWARD = timedelta(minutes=15)


async def run(
    name: str,
    arg: Any,
    result_type: type[T],
    *,
    activity_id: str | None,
    summary: str,
    schedule_to_close: timedelta | None = None,
    start_to_close: timedelta = PER_ATTEMPT,
    heartbeat: timedelta | None = None,
    retry: RetryPolicy = PLATFORM_RETRY,
) -> T:
    """The one way a workflow calls an activity: by name, typed, with its step id and a summary
    for the UI. 30 s per attempt, retried with back-off on transient errors (for at most
    ``schedule_to_close``, if given); a long step heartbeats, a poll brings its own ``retry``."""
    return await workflow.execute_activity(
        name,
        arg,
        result_type=result_type,
        activity_id=activity_id,
        start_to_close_timeout=start_to_close,
        schedule_to_close_timeout=schedule_to_close,
        heartbeat_timeout=heartbeat,
        retry_policy=retry,
        summary=summary,
    )


async def run_local(
    name: str,
    arg: Any,
    result_type: type[T],
    *,
    activity_id: str,
    summary: str,
    schedule_to_close: timedelta,
    start_to_close: timedelta = PER_ATTEMPT,
    retry: RetryPolicy = PLATFORM_RETRY,
) -> T:
    """``run`` as a local activity: for a short read whose marker should share the workflow task
    (and its one billable action) with what the workflow does next."""
    return await workflow.execute_local_activity(
        name,
        arg,
        result_type=result_type,
        activity_id=activity_id,
        start_to_close_timeout=start_to_close,
        schedule_to_close_timeout=schedule_to_close,
        retry_policy=retry,
        summary=summary,
    )


async def request_transition(req: TransitionRequest) -> TransitionAccepted:
    return await run(
        ActivityNames.PBX_REQUEST_TRANSITION,
        req,
        TransitionAccepted,
        activity_id=f"request-{req.kind.value}",
        summary=f"ask the platform to start the {req.kind.value}",
        schedule_to_close=MUST_SUCCEED,
    )


async def get_service(tenant_id: str, *, activity_id: str, must_succeed: bool) -> ServiceSnapshot:
    return await run(
        ActivityNames.PBX_GET_SERVICE,
        TenantRef(tenant_id=tenant_id),
        ServiceSnapshot,
        activity_id=activity_id,
        summary=f"read the service of {tenant_id}",
        schedule_to_close=MUST_SUCCEED if must_succeed else BEST_EFFORT,
    )


async def open_ticket(ticket: OpenTicket, *, step: str) -> Ticket:
    return await run(
        ActivityNames.HELPDESK_OPEN_TICKET,
        ticket,
        Ticket,
        activity_id=step,
        summary="open a support ticket",
    )


async def comment_on_ticket(comment: CommentOnTicket, *, step: str) -> Ticket:
    return await run(
        ActivityNames.HELPDESK_COMMENT,
        comment,
        Ticket,
        activity_id=step,
        summary=f"comment on ticket {comment.ticket_id}",
    )


async def resolve_ticket(resolution: ResolveTicket, *, step: str) -> Ticket:
    return await run(
        ActivityNames.HELPDESK_RESOLVE,
        resolution,
        Ticket,
        activity_id=step,
        summary=f"resolve ticket {resolution.ticket_id}",
    )


async def send_email(email: EmailMessage, *, step: str) -> EmailSent:
    # Keep trying while the mail server is down: the mail must go out, once.
    return await run(
        ActivityNames.MAIL_SEND,
        email,
        EmailSent,
        activity_id=step,
        summary=f"email {plural(len(email.to), 'recipient')}",
    )


async def send_template(email: TemplatedEmail, *, step: str) -> EmailSent:
    """A customer email the activity renders from its template, in the customer's language."""
    return await run(
        EmailActivities.SEND_TEMPLATE,
        email,
        EmailSent,
        activity_id=step,
        summary=f"email {email.template.value} to {len(email.to) + len(email.staff_to)} "
        "recipient(s)",
    )


# --- service deletion ----------------------------------------------------------------------------


async def get_admins(tenant_id: str) -> TenantAdmins:
    return await run(
        DeletionActivities.GET_ADMINS,
        TenantRef(tenant_id=tenant_id),
        TenantAdmins,
        activity_id="admins",
        summary=f"list the Admins of {tenant_id}",
        schedule_to_close=MUST_SUCCEED,
    )


async def issue_code() -> IssuedCode:
    return await run(
        DeletionActivities.ISSUE_CODE,
        IssueCode(),
        IssuedCode,
        activity_id="issue-code",
        summary="generate the confirmation code (only its HMAC is kept)",
    )


async def send_code(email: CodeEmail) -> EmailSent:
    return await run(
        DeletionActivities.SEND_CODE,
        email,
        EmailSent,
        activity_id="email-code",
        summary=f"email the code to {plural(len(email.to), 'Admin')}",
    )


async def check_code(check: CodeCheck) -> bool:
    # Local: answers the operator's Update in milliseconds and adds one marker, not three events.
    return await workflow.execute_local_activity(
        DeletionActivities.CHECK_CODE,
        check,
        result_type=bool,
        start_to_close_timeout=timedelta(seconds=10),
        retry_policy=PLATFORM_RETRY,
        summary="compare the code's HMAC",
    )


async def purge(step: PurgeStep) -> Purged:
    return await run(
        DeletionActivities.PURGE,
        step,
        Purged,
        activity_id=f"purge-{step.step}",
        summary=f"purge {step.step}",
    )


async def purge_all(request: PurgeRequest) -> PurgeReport:
    # One activity for the whole purge: each step is an idempotent platform call, so a retry
    # after a crash re-runs the steps already done at no cost, and the history holds 3 events
    # instead of 3 per step.
    return await run(
        DeletionActivities.PURGE_ALL,
        request,
        PurgeReport,
        activity_id="purge",
        summary=f"purge {', '.join(request.steps)}",
    )


async def live_mobile_lines(tenant_id: str) -> TenantLines:
    return await run(
        DeletionActivities.LIVE_LINES,
        TenantRef(tenant_id=tenant_id),
        TenantLines,
        activity_id="live-lines",
        summary=f"list the live eSIM lines of {tenant_id}",
        schedule_to_close=MUST_SUCCEED,
    )


# Each line's own workflow deletes its device and tells its user: give them ten minutes.
LINES_END_WITHIN = timedelta(minutes=10)


async def mobile_lines_ended(tenant_id: str) -> TenantLines:
    """Retried (the activity fails while a line is still live) until every line has ended."""
    return await workflow.execute_activity(
        DeletionActivities.LINES_ENDED,
        TenantRef(tenant_id=tenant_id),
        result_type=TenantLines,
        activity_id="lines-ended",
        start_to_close_timeout=PER_ATTEMPT,
        schedule_to_close_timeout=LINES_END_WITHIN,
        retry_policy=RetryPolicy(
            initial_interval=timedelta(milliseconds=500),
            backoff_coefficient=1.5,
            maximum_interval=timedelta(seconds=20),
        ),
        summary=f"wait until every eSIM line of {tenant_id} has ended",
    )


async def business_deadline(request: BusinessDeadline) -> Deadline:
    # Local: pure computation, recorded once in history (holiday tables change between deploys).
    return await workflow.execute_local_activity(
        CALENDAR_DEADLINE,
        request,
        result_type=Deadline,
        start_to_close_timeout=timedelta(seconds=10),
        summary=f"{plural(request.business_days, 'business day')} in {request.country}",
    )
