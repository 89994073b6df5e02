"""One lifecycle procedure at a time per tenant's service, enforced by the Temporal server.

Deactivation, reactivation and deletion of a tenant's service all start through one workflow per
service, ``pbx-service/<tenant>``, with update-with-start (conflict policy USE_EXISTING): the
server runs at most one such workflow per tenant, and its ``begin`` Update, which runs in the
workflow's single thread, starts the procedure as a child under the procedure's own id
(``pbx-deactivation/<tenant>``, ``pbx-deletion/<tenant>``…) or refuses it because another one is
running. Two operators starting a deactivation and a deletion in the same instant therefore reach
the same workflow, and exactly one of them starts; there is no check-then-act anywhere.

Why this design: the procedures keep their ids, types and histories (links, ``pbxops delete
confirm``, tickets and recorded histories are untouched), and nothing else about the tenant
(eSIM lines, number removals, support contacts) takes part, so a line that lives for months never
blocks a lifecycle procedure. The child is abandoned, not terminated, if this workflow is ever
terminated: a deletion in progress must never be killed by its lock. This workflow ends when its
procedure ends; the next procedure starts a new run under the same id.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ChildWorkflowHandle, ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from pbxops.contracts import search_attributes as sa
    from pbxops.contracts.lifecycle import BUSY_ERROR, BeginProcedure, Begun, ServiceInput

# Update-with-start delivers the first request with the start; a run that got none (a client
# that died between the two) does not linger.
_FIRST_REQUEST_WITHIN = timedelta(minutes=1)


@workflow.defn(name="ServiceLifecycle")
class ServiceLifecycle:
    @workflow.init
    def __init__(self, inp: ServiceInput) -> None:
        self._tenant_id = inp.tenant_id
        self._claimed: BeginProcedure | None = None
        self._running: Begun | None = None
        self._child: ChildWorkflowHandle[object, object] | None = None

    @workflow.update(
        name="begin",
        description="Start a deactivation, reactivation or deletion of this service, unless "
        "another one is running (then refused, naming it).",
    )
    async def begin(self, request: BeginProcedure) -> Begun:
        # Checked again here, before any await: two requests validated in the same workflow task
        # both pass the validator; only the first handler claims the service.
        self._refuse_if_busy(request)
        self._claimed = request
        workflow_id = request.procedure.workflow_id(request.tenant_id)
        try:
            self._child = await workflow.start_child_workflow(
                request.procedure.value,
                request.payload,
                id=workflow_id,
                parent_close_policy=ParentClosePolicy.ABANDON,
                static_summary=request.summary,
                static_details=request.details,
                memo={"started_by": request.started_by} if request.started_by else None,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(sa.TENANT_ID, request.tenant_id),
                        SearchAttributePair(sa.PROCEDURE_NAME, request.procedure.value),
                        SearchAttributePair(sa.STEP, "requesting"),
                    ]
                ),
            )
        except WorkflowAlreadyStartedError:
            # Started outside this workflow (before it existed): still the one running.
            self._claimed = None
            raise ApplicationError(
                f"tenant '{request.tenant_id}' already has a running {request.procedure.value}",
                workflow_id,
                type=BUSY_ERROR,
            ) from None
        self._running = Begun(
            workflow_id=workflow_id, run_id=self._child.first_execution_run_id or ""
        )
        return self._running

    @begin.validator
    def _validate_begin(self, request: BeginProcedure) -> None:
        self._refuse_if_busy(request)

    def _refuse_if_busy(self, request: BeginProcedure) -> None:
        if request.tenant_id != self._tenant_id:
            raise ApplicationError(
                f"this is the service of tenant '{self._tenant_id}', not '{request.tenant_id}'",
                type="WrongTenant",
            )
        if self._claimed is not None:
            running = self._claimed.procedure
            raise ApplicationError(
                f"tenant '{self._tenant_id}' already has a running {running.value}",
                running.workflow_id(self._tenant_id),
                type=BUSY_ERROR,
            )

    @workflow.query(description="The lifecycle procedure running on this service, if any.")
    def running(self) -> Begun | None:
        return self._running

    @workflow.run
    async def run(self, inp: ServiceInput) -> Begun | None:
        try:
            await workflow.wait_condition(
                lambda: self._claimed is not None or not workflow.all_handlers_finished(),
                timeout=_FIRST_REQUEST_WITHIN,
                timeout_summary="first request",
            )
        except TimeoutError:
            return None
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._child is None:
            return None
        workflow.set_current_details(
            f"Running **{self._claimed.procedure.label if self._claimed else ''}** "
            f"`{self._running.workflow_id if self._running else ''}`; any other lifecycle "
            "procedure of this service is refused until it ends."
        )
        try:
            await self._child
        except Exception:  # its failure is its own; the service is free again
            workflow.logger.info("the lifecycle procedure ended with a failure")
        return self._running
