"""The plain-text emails of procedures started before the customer emails became templates.

Every email pbxops sends today is a template, rendered in the tenant's language by the email
activity (``activities/emails.py``, docs/emails.md). Runs started before that change replay
their own code path, which sends these texts: they live here, in one place, only for those runs.
The replay tests (tests/test_replay.py) hold histories that take each of them. Once no such run
can still be open (the longest, a deletion, ends 30 days after its confirmation), this module and
the branches that call it can go.
"""

from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pbxops.contracts.mail import EmailMessage
    from pbxops.contracts.number_removal import BillingLink, BillingPath, NumberOutcome, NumberState
    from pbxops.contracts.pbx import TransitionKind
    from pbxops.contracts.provisioning import AccountSnapshot, ResellerSnapshot
    from pbxops.contracts.support import ProblemReportCreated, ProblemReportInput
    from pbxops.contracts.wording import minutes_or_hours, plural, utc_time


def problem_report(
    inp: ProblemReportInput, report: ProblemReportCreated, address: str
) -> EmailMessage:
    return EmailMessage(
        to=[address],
        subject=f"[{inp.report_id}] Problem report from {report.customer_name}: {inp.application}",
        text="\n".join(
            [
                f"Customer {report.customer_name} (account {inp.account_id}) reported a problem "
                f"with {inp.application}.",
                f"Report id: {inp.report_id}",
                f"Reported at: {report.created_at}"
                + (f" by {inp.reported_by}" if inp.reported_by else ""),
                "",
                inp.description,
                "",
                "You receive this as a support contact of the account: the report is yours to "
                "take in charge; the vendor does not contact the customer about it. Escalate to "
                "the vendor's partner technical support through the usual channels if needed.",
            ]
        ),
    )


def trial_expired(account: AccountSnapshot, reseller: ResellerSnapshot) -> EmailMessage:
    ends: datetime | None = account.trial_ends_at
    return EmailMessage(
        to=[reseller.notification_email],
        subject=f"Trial expired: {account.name} ({account.id})",
        text="\n".join(
            [
                f"Hello {reseller.name},",
                "",
                f"The {account.trial_days}-day trial of your customer {account.name} "
                f"(account {account.id}, product type {account.product_type}) ended"
                + (f" on {ends:%Y-%m-%d}." if ends else "."),
                "The account is now marked trial-expired.",
                "",
                "To keep the customer, end the trial (it is then billed normally):",
                f"  pbxops customer update {account.id} --no-trial",
                "or extend it:",
                f"  pbxops customer update {account.id} --trial-days <days>",
            ]
        ),
    )


def service_deleted(
    tenant: str, tenant_name: str, ticket_id: str | None, recipients: list[str]
) -> EmailMessage:
    text = (
        f"The Cloud PBX service of {tenant_name} ({tenant}) has been deleted.\n\n"
        "All its data (extensions, users, recordings) is erased, its numbers are released, "
        "its usage is zero and its billing has stopped."
    )
    if ticket_id:
        text += f"\n\nSupport ticket {ticket_id} was resolved."
    unique = list(dict.fromkeys(recipients))
    return EmailMessage(to=unique, subject=f"Service deleted: {tenant_name}", text=text)


def transition_done(
    label: str,
    kind: TransitionKind,
    tenant: str,
    took: timedelta,
    ticket_id: str | None,
    to: str,
) -> EmailMessage:
    state = kind.target_state.value
    lines = [
        f"The {label} of tenant {tenant} is complete: the service is {state}.",
        f"It took {minutes_or_hours(took)}.",
    ]
    if kind is TransitionKind.DEACTIVATION:
        lines.append(
            "Extensions are deregistered, none was deleted, and billing continues: "
            "only a deletion stops it."
        )
    if ticket_id:
        lines.append(f"Support ticket {ticket_id} was resolved.")
    return EmailMessage(to=[to], subject=f"Service {state}: tenant {tenant}", text="\n".join(lines))


def number_removal(
    to: str, tenant_name: str, states: list[NumberState], links: list[BillingLink]
) -> EmailMessage:
    removed = [s for s in states if s.outcome is NumberOutcome.REMOVED]
    unverified = [s for s in states if s.outcome is NumberOutcome.NOT_VERIFIED]
    deleted = (NumberOutcome.REMOVED, NumberOutcome.NOT_VERIFIED)
    others = [s for s in states if s.outcome not in deleted]
    total = len(states)
    lines = ["Hello,", ""]
    if len(removed) == total:
        lines.append(
            f"your request to remove the package of {plural(total, 'phone number')} of "
            f"{tenant_name} is complete."
        )
    else:
        lines.append(
            f"your request to remove the package of {plural(total, 'phone number')} of "
            f"{tenant_name} is done for {len(removed)} of them; "
            f"{total - len(removed)} could not be completed (see below)."
        )
    if removed:
        lines += ["", "Removed:"]
        lines += [f"  - {s.display}: removed on {utc_time(s.deleted_at)}" for s in removed]
    if unverified:
        lines += ["", "Deleted, confirmation pending (our support team follows it up):"]
        lines += [f"  - {s.display}: {s.detail}" for s in unverified]
    if others:
        lines += ["", "Not removed:"]
        lines += [f"  - {s.display}: {s.detail}" for s in others]
    for link in links:
        lines += [
            "",
            "Billing: your subscription was bought on the 2Checkout portal. Please decrease "
            f"the number of licences by {link.licences_to_decrease} (one per removed number) "
            "on the 2Checkout portal, using this link to update your subscription:",
            f"  {link.update_subscription_url}",
        ]
    if any(s.billing is BillingPath.DIRECT for s in removed) and not links:
        lines += ["", "Billing: these numbers are billed directly; nothing to do on your side."]
    lines += ["", "Kind regards,", "Cloud PBX support"]
    how = "complete" if len(removed) == total else "partly complete"
    return EmailMessage(
        to=[to], subject=f"Phone number removal {how}: {tenant_name}", text="\n".join(lines)
    )
