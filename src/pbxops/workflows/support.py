"""Support contacts and problem reports (docs/procedures.md#support-contacts).

``SupportContactsChange`` adds or removes one contact as a partner or an administrative user; the
platform applies the source's rules and its refusal is the procedure's one-line failure.
``ProblemReport`` records a customer's report and emails every support contact of the account,
each address once, each message with its own idempotency key (a retry never sends it twice).
"""

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from pbxops.contracts.emails import (
        EMAIL_TEMPLATES_PATCH,
        Audience,
        EmailTemplate,
        TemplatedEmail,
    )
    from pbxops.contracts.procedures import Procedure, ProcedureStatus
    from pbxops.contracts.support import (
        ContactAction,
        ProblemReportCreated,
        ProblemReportInput,
        ProblemReportResult,
        SupportActivityNames,
        SupportContactsChangeInput,
        SupportContactsChangeResult,
    )
    from pbxops.contracts.wording import plural

from pbxops.workflows import calls, legacy_emails, progress
from pbxops.workflows.progress import AUDIT_IN_RESULTS, Tracked, started_by
from pbxops.workflows.sla import cause_message


@workflow.defn(name=Procedure.SUPPORT_CONTACTS.value)
class SupportContactsChange(Tracked):
    """Add or remove one support contact of a customer account."""

    @workflow.init
    def __init__(self, inp: SupportContactsChangeInput) -> None:
        self._status = ProcedureStatus(
            procedure=Procedure.SUPPORT_CONTACTS,
            workflow_id=workflow.info().workflow_id,
            tenant_id=inp.account_id,
            step="changing",
            started_at=workflow.now(),
            started_by=started_by(),
        )

    @workflow.query(description="Step and outcome of the change.")
    def status(self) -> ProcedureStatus:
        return self._status

    @workflow.run
    async def run(self, inp: SupportContactsChangeInput) -> SupportContactsChangeResult:
        verb = "adding" if inp.action is ContactAction.ADD else "removing"
        self._enter("changing", f"{verb} a support contact as {inp.acting_as.value}")
        try:
            result = await calls.run(
                SupportActivityNames.CHANGE_CONTACTS,
                inp,
                SupportContactsChangeResult,
                activity_id=f"{inp.action.value}-contact",
                summary=f"{inp.action.value} a support contact as {inp.acting_as.value}",
                schedule_to_close=calls.FORWARD,
            )
        except ActivityError as err:
            raise self._failed(cause_message(err), "ContactChangeRefused") from err
        self._done(
            progress.DONE,
            f"{plural(len(result.contacts), 'support contact')} now"
            + ("" if result.changed else " (nothing to change)"),
        )
        if workflow.patched(AUDIT_IN_RESULTS):
            return result.model_copy(update={"started_by": self._status.started_by})
        return result


@workflow.defn(name=Procedure.PROBLEM_REPORT.value)
class ProblemReport(Tracked):
    """Record a problem report and email it to every support contact of the account, once."""

    @workflow.init
    def __init__(self, inp: ProblemReportInput) -> None:
        self._status = ProcedureStatus(
            procedure=Procedure.PROBLEM_REPORT,
            workflow_id=workflow.info().workflow_id,
            tenant_id=inp.account_id,
            step="recording",
            started_at=workflow.now(),
            started_by=started_by(),
        )

    @workflow.query(description="Step and how many contacts were emailed.")
    def status(self) -> ProcedureStatus:
        return self._status

    @workflow.run
    async def run(self, inp: ProblemReportInput) -> ProblemReportResult:
        self._enter("recording", f"recording report {inp.report_id} ({inp.application})")
        try:
            report = await calls.run(
                SupportActivityNames.CREATE_REPORT,
                inp,
                ProblemReportCreated,
                activity_id="record-report",
                summary=f"record problem report {inp.report_id}",
                schedule_to_close=calls.MUST_SUCCEED,
            )
        except ActivityError as err:
            ticket = await self._ticket_if_unsafe(
                err,
                f"problem report {inp.report_id} of account '{inp.account_id}': it is recorded "
                "on the platform, but no support contact was emailed",
                f"Problem report {inp.report_id} of account {inp.account_id} stopped: "
                "unsafe platform data",
            )
            raise self._failed(cause_message(err) + ticket, "PlatformRejected") from err
        # One message per address: contacts never see each other's addresses, and an address
        # that is both a partner user's and an explicit contact gets the report once.
        addresses: list[str] = []
        for contact in report.contacts:
            if contact.email.lower() not in {a.lower() for a in addresses}:
                addresses.append(contact.email)
        for n, address in enumerate(addresses, start=1):
            self._enter("emailing", f"emailing support contact {n} of {len(addresses)}")
            if workflow.patched(EMAIL_TEMPLATES_PATCH):
                await calls.send_template(
                    report_template(inp, report, address), step=f"email-contact-{n}"
                )
            else:
                await calls.send_email(
                    legacy_emails.problem_report(inp, report, address), step=f"email-contact-{n}"
                )
        self._done(
            progress.DONE, f"report {inp.report_id} emailed to {plural(len(addresses), 'contact')}"
        )
        return ProblemReportResult(
            report_id=inp.report_id,
            account_id=inp.account_id,
            emailed=addresses,
            started_by=self._status.started_by if workflow.patched(AUDIT_IN_RESULTS) else None,
        )


def report_template(
    inp: ProblemReportInput, report: ProblemReportCreated, address: str
) -> TemplatedEmail:
    """In the account's language: support contacts are its partner's people."""
    return TemplatedEmail(
        template=EmailTemplate.PROBLEM_REPORT,
        to=[address],
        audience=Audience(account_id=inp.account_id),
        values={
            "report_id": inp.report_id,
            "customer_name": report.customer_name,
            "account_id": inp.account_id,
            "application": inp.application,
            "created_at": str(report.created_at),
            "reported_by": inp.reported_by,
            "description": inp.description,
        },
    )
