"""Starting, finding and watching procedures on Temporal, for the CLI commands."""

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from pbxops.cli.errors import OperatorError
from pbxops.cli.history import statuses, task_completed
from pbxops.cli.identity import who
from pbxops.contracts import search_attributes as sa
from pbxops.contracts.deletion import DeletionStatus
from pbxops.contracts.lifecycle import (
    BEGIN_UPDATE,
    BUSY_ERROR,
    SERVICE_WORKFLOW,
    BeginProcedure,
    Begun,
    ServiceInput,
    service_workflow_id,
)
from pbxops.contracts.mobile import MobileLineStatus
from pbxops.contracts.number_removal import NumberRemovalStatus
from pbxops.contracts.procedures import Procedure, ProcedureStatus
from pbxops.contracts.provisioning import ProvisioningStatus
from pbxops.runtime.links import workflow_url
from pbxops.runtime.settings import Settings
from pbxops.runtime.temporal import unreachable

STATUS_QUERY = "status"
# A lifecycle procedure that has just ended holds its service workflow for a workflow task more.
_BUSY_RETRIES = 10
_BUSY_PAUSE_SECONDS = 0.3
_WORKER_ANSWERS_WITHIN_SECONDS = 30
_LIFECYCLE = (Procedure.DEACTIVATION, Procedure.REACTIVATION, Procedure.DELETION)


@dataclass
class Started:
    procedure: Procedure
    workflow_id: str
    run_id: str
    url: str


@dataclass
class Listed:
    workflow_id: str
    run_id: str
    procedure: str
    tenant_id: str
    step: str | None
    sla_deadline: datetime | None
    escalated: bool
    ticket_id: str | None
    status: str
    started_at: datetime | None
    url: str


class Procedures:
    def __init__(self, client: Client, settings: Settings) -> None:
        self._client = client
        self._settings = settings

    @property
    def client(self) -> Client:
        return self._client

    def url(self, workflow_id: str, run_id: str | None = None) -> str:
        return workflow_url(self._settings.ui_url, self._client.namespace, workflow_id, run_id)

    async def start(
        self,
        procedure: Procedure,
        business_key: str,
        tenant_id: str,
        payload: BaseModel,
        summary: str,
        details: str,
        started_by: str | None = None,
        step: str = "requesting",
    ) -> Started:
        """The one place a procedure is started: its id from the business key, its UI summary and
        details, who started it, and the search attributes it is found by from the first moment."""
        workflow_id = procedure.workflow_id(business_key)
        started_by = started_by or who(self._settings)
        try:
            handle = await self._client.start_workflow(
                procedure.value,
                payload,
                id=workflow_id,
                task_queue=self._settings.task_queue,
                # One running procedure per business key: a second start is refused, never doubled.
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                static_summary=summary,
                static_details=f"{details}\n\nStarted by **{started_by}**.",
                memo={"started_by": started_by},
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(sa.TENANT_ID, tenant_id),
                        SearchAttributePair(sa.PROCEDURE_NAME, procedure.value),
                        SearchAttributePair(sa.STEP, step),
                    ]
                ),
            )
        except WorkflowAlreadyStartedError as err:
            running = self.url(workflow_id, err.run_id)
            raise OperatorError(
                f"a {procedure.label} of {business_key} is already running: {running}"
            ) from err
        run_id = handle.result_run_id or ""
        return Started(procedure, workflow_id, run_id, self.url(workflow_id, run_id))

    async def begin_lifecycle(
        self,
        procedure: Procedure,
        tenant_id: str,
        payload: BaseModel,
        summary: str,
        details: str,
        started_by: str,
    ) -> Started:
        """Start a deactivation, reactivation or deletion through the tenant's service workflow
        (workflows/service_lifecycle.py): the server starts it, or refuses it because another
        lifecycle procedure of the tenant is running, atomically, whatever the timing."""
        # A fast refusal that starts nothing, also for a procedure started before the service
        # workflow existed (directly, under its own id). Never the guarantee: two starts in the
        # same instant both pass it, and the service workflow lets only one of them through.
        for listed in await self._running_lifecycle(tenant_id):
            raise OperatorError(
                f"tenant '{tenant_id}' already has a running {listed.procedure}: {listed.url}"
            )
        request = BeginProcedure(
            procedure=procedure,
            tenant_id=tenant_id,
            payload=payload.model_dump(mode="json"),
            summary=summary,
            details=f"{details}\n\nStarted by **{started_by}**.",
            started_by=started_by,
        )
        for _ in range(_BUSY_RETRIES):
            start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
                SERVICE_WORKFLOW,
                ServiceInput(tenant_id=tenant_id),
                id=service_workflow_id(tenant_id),
                task_queue=self._settings.task_queue,
                # One service workflow per tenant: every request joins the running one.
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                static_summary=f"Service of {tenant_id}: one lifecycle procedure at a time",
            )
            try:
                # The service workflow answers once a worker runs it: never wait forever.
                async with asyncio.timeout(_WORKER_ANSWERS_WITHIN_SECONDS):
                    begun = await self._client.execute_update_with_start_workflow(
                        BEGIN_UPDATE, request, start_workflow_operation=start, result_type=Begun
                    )
            except TimeoutError as err:
                raise OperatorError(
                    f"no worker answered within {_WORKER_ANSWERS_WITHIN_SECONDS}s (is the worker "
                    f"running?); the {procedure.label} starts when one does: "
                    f"{self.url(service_workflow_id(tenant_id))}"
                ) from err
            except WorkflowUpdateFailedError as err:
                cause = err.cause
                if not (isinstance(cause, ApplicationError) and cause.type == BUSY_ERROR):
                    raise OperatorError(getattr(cause, "message", None) or str(err)) from err
                running = str(cause.details[0]) if cause.details else ""
                if running and await self._is_running(running):
                    link = await self.current_url(running)  # the run that holds the service
                    raise OperatorError(f"{cause.message}: {link}") from err
                # The one it names has just ended and its service workflow is closing.
            except RPCError as err:
                if "completed" not in str(err).lower():
                    raise
                # The service workflow closed while the request reached it: start a new one.
            else:
                url = self.url(begun.workflow_id, begun.run_id or None)  # the run it started
                return Started(procedure, begun.workflow_id, begun.run_id, url)
            await asyncio.sleep(_BUSY_PAUSE_SECONDS)
        raise OperatorError(
            f"the service workflow of tenant '{tenant_id}' is busy; try again in a moment: "
            f"{self.url(service_workflow_id(tenant_id))}"
        )

    async def _running_lifecycle(self, tenant_id: str) -> list[Listed]:
        ids = ", ".join(f"'{p.workflow_id(tenant_id)}'" for p in _LIFECYCLE)
        return await self.list(f"WorkflowId IN ({ids}) AND ExecutionStatus = 'Running'", limit=1)

    async def _is_running(self, workflow_id: str) -> bool:
        try:
            description = await self._client.get_workflow_handle(workflow_id).describe()
        except RPCError:
            return False
        return description.status == WorkflowExecutionStatus.RUNNING

    async def list(self, query: str, limit: int = 200) -> list[Listed]:
        found: list[Listed] = []
        async for execution in self._client.list_workflows(query, limit=limit):
            attrs = execution.typed_search_attributes
            found.append(
                Listed(
                    workflow_id=execution.id,
                    run_id=execution.run_id,
                    procedure=attrs.get(sa.PROCEDURE_NAME) or execution.workflow_type,
                    tenant_id=attrs.get(sa.TENANT_ID) or "",
                    step=attrs.get(sa.STEP),
                    sla_deadline=attrs.get(sa.SLA_DEADLINE),
                    escalated=bool(attrs.get(sa.ESCALATED)),
                    ticket_id=attrs.get(sa.TICKET_ID),
                    status=_status_name(execution.status),
                    started_at=execution.start_time,
                    url=self.url(execution.id, execution.run_id),
                )
            )
        return found

    async def latest_for_tenant(self, tenant_id: str) -> Listed:
        found = await self.list(f"TenantId = '{tenant_id}'", limit=50)
        if not found:
            raise OperatorError(f"no procedure has run for tenant '{tenant_id}'")
        return max(found, key=lambda item: item.started_at or datetime.min)

    async def current_url(self, workflow_id: str) -> str:
        """The link to the run of ``workflow_id`` that is current now, pinned by its run id."""
        with contextlib.suppress(RPCError):
            return self.url(workflow_id, (await self.handle(workflow_id).describe()).run_id)
        return self.url(workflow_id)

    def handle(self, workflow_id: str, run_id: str | None = None) -> WorkflowHandle[Any, Any]:
        return self._client.get_workflow_handle(workflow_id, run_id=run_id)

    async def describe(
        self, workflow_id: str, run_id: str | None = None
    ) -> WorkflowExecutionDescription:
        try:
            return await self.handle(workflow_id, run_id).describe()
        except RPCError as err:
            if "not found" in str(err).lower():
                raise OperatorError(f"no procedure with workflow id '{workflow_id}'") from err
            raise

    async def status(
        self,
        workflow_id: str,
        run_id: str | None = None,
        result_type: type[ProcedureStatus] = ProcedureStatus,
    ) -> ProcedureStatus:
        handle = self.handle(workflow_id, run_id)
        try:
            return await handle.query(STATUS_QUERY, result_type=result_type)
        except RPCError as err:
            if "not found" in str(err).lower():
                raise OperatorError(f"no procedure with workflow id '{workflow_id}'") from err
            if unreachable(err):
                raise  # the server, not the worker, is away: the CLI's one sentence for it
            raise OperatorError(
                f"cannot read the status of {workflow_id} (is the worker running?): {err}"
            ) from err

    async def watch(
        self,
        started: Started,
        on_status: Callable[[ProcedureStatus], None],
        result_type: type[BaseModel],
        refresh: float = 1.0,
    ) -> BaseModel:
        """Follow a procedure until it ends, calling ``on_status`` with each new status.

        The status is read when the workflow has run (a workflow task completed), never on a
        timer: a procedure asleep for two days costs no query. ``on_status`` is called again
        every ``refresh`` seconds with the last status, for a live elapsed time.
        """
        handle = self._client.get_workflow_handle(
            started.workflow_id, run_id=started.run_id, result_type=result_type
        )

        async def read() -> ProcedureStatus | None:
            # A closed workflow with no worker to answer the query: the result will tell.
            with contextlib.suppress(RPCError):
                return await handle.query(STATUS_QUERY, result_type=ProcedureStatus)
            return None

        last: list[ProcedureStatus] = []

        async def follow_changes() -> None:
            async for current in statuses(handle, read, task_completed):
                if current is not None:
                    last[:] = [current]
                    on_status(current)

        async def refresh_elapsed() -> None:
            while True:
                await asyncio.sleep(refresh)
                if last:
                    on_status(last[0])

        watchers = [
            asyncio.ensure_future(follow_changes()),
            asyncio.ensure_future(refresh_elapsed()),
        ]
        try:
            return await handle.result()
        except WorkflowFailureError as err:
            raise OperatorError(
                f"{started.procedure.label} failed: {failure_message(err)} ({started.url})"
            ) from err
        finally:
            for watcher in watchers:
                watcher.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)


def status_type(workflow_type: str | None) -> type[ProcedureStatus]:
    """The status model a procedure's query answers with, so nothing it reports is dropped
    (e.g. a deletion's wrong-code count)."""
    return _STATUS_TYPES.get(workflow_type or "", ProcedureStatus)


_STATUS_TYPES: dict[str, type[ProcedureStatus]] = {
    Procedure.DELETION.value: DeletionStatus,
    Procedure.NUMBER_REMOVAL.value: NumberRemovalStatus,
    Procedure.MOBILE_LINE.value: MobileLineStatus,
    Procedure.PROVISIONING.value: ProvisioningStatus,
    Procedure.PBX_CONNECTION.value: ProvisioningStatus,
}


def failure_message(err: WorkflowFailureError) -> str:
    cause: BaseException | None = err.cause
    while cause is not None:
        if isinstance(cause, ApplicationError):
            return cause.message
        cause = cause.__cause__ or getattr(cause, "cause", None)
    return str(err.cause or err)


def _status_name(status: WorkflowExecutionStatus | None) -> str:
    return status.name.lower().replace("_", " ") if status else "unknown"
