"""The chaos harness: many procedures of every finished kind in flight against real processes, an
operator who does their part (reads deletion codes from the mailbox and confirms them, activates
eSIMs with the emailed code, deletes the lines), and the bookkeeping that proves the claim:

- every procedure completes, with the right outcome, and the platform agrees;
- the mailbox holds exactly the expected emails per recipient, none twice;
- the helpdesk holds exactly one ticket per escalation (resolved), none for anything else.

Procedures are started with the Temporal client (the payloads, ids and search attributes the CLI
would use), not one CLI process each: 100 CLI start-ups would cost more CPU than the procedures on
this 2-core machine. The operator's steps retry through every outage (a dead worker, a restarting
server, injected 500s), as a person would, with stable Update ids so a retry is never a second
confirmation.
"""

import asyncio
import json
import random
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from pydantic import BaseModel
from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError

from pbxops.cli.deletion import confirmation
from pbxops.contracts import search_attributes as sa
from pbxops.contracts.deletion import DeletionInput, DeletionResult, Phase
from pbxops.contracts.mobile import DeleteRequest, MobileLineInput, MobileLineResult
from pbxops.contracts.number_removal import NumberRemovalInput, NumberRemovalResult
from pbxops.contracts.pbx import ServiceState
from pbxops.contracts.procedures import Procedure
from pbxops.contracts.service_transition import ServiceTransitionInput, ServiceTransitionResult
from pbxops.runtime.settings import Settings
from pbxops.runtime.temporal import connect
from tests.stack import ADMIN_HEADERS, TOKEN, Stack

# How the 100 procedures are mixed (kind: share). "escalation" is a deactivation whose platform is
# slower than its SLA: it must open exactly one ticket and resolve it.
MIX = {
    "deactivation": 25,
    "reactivation": 15,
    "escalation": 10,
    "deletion": 25,
    "mobile": 15,
    "number": 10,
}
SMDP = "smdp.chaos.example"


@dataclass
class Run:
    """One procedure under test, and what it must leave behind."""

    kind: str
    tenant: str
    workflow_id: str
    mail: dict[str, int]  # recipient → emails expected
    tickets: int = 0  # set from the outcome: one per escalation
    result: BaseModel | None = None
    failure: str | None = None
    device_id: str | None = None
    number: str | None = None

    @property
    def requester(self) -> str:
        return f"ops@{self.tenant}.example"

    @property
    def admin(self) -> str:
        return f"anna@{self.tenant}.example"


@dataclass
class Report:
    scenario: str
    procedures: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    disruptions: list[str] = field(default_factory=list)
    completed: int = 0
    wrong: list[str] = field(default_factory=list)
    emails: int = 0
    escalations: int = 0
    tickets: int = 0
    duplicates: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    seconds_total: float = 0.0
    seconds_to_drain_after_last_disruption: float = 0.0
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> str:
        return json.dumps(self.__dict__, indent=2, default=str)


def plan(scenario: str, total: int = 100, seed: int = 7) -> list[Run]:
    """``total`` procedures in the MIX proportions, each on its own tenant."""
    rng = random.Random(seed)
    kinds = [kind for kind, share in MIX.items() for _ in range(share)]
    kinds = (kinds * (total // len(kinds) + 1))[:total]
    rng.shuffle(kinds)
    runs = []
    for index, kind in enumerate(kinds):
        tenant = f"chaos-{scenario}-{index:03d}"
        ops, anna = f"ops@{tenant}.example", f"anna@{tenant}.example"
        if kind in ("deactivation", "reactivation", "escalation"):
            procedure = Procedure.REACTIVATION if kind == "reactivation" else Procedure.DEACTIVATION
            runs.append(Run(kind, tenant, procedure.workflow_id(tenant), {ops: 1}))
        elif kind == "deletion":
            # The code to the Admin; the completion notice to the requester and the Admin.
            runs.append(Run(kind, tenant, Procedure.DELETION.workflow_id(tenant),
                            {anna: 2, ops: 1}))  # fmt: skip
        elif kind == "mobile":
            device = f"md-chaos{index:05d}"
            # The activation code, then the deletion notice, to the user.
            runs.append(Run(kind, tenant, Procedure.MOBILE_LINE.workflow_id(device), {anna: 2},
                            device_id=device))  # fmt: skip
        else:
            number = f"+39069900{index:04d}"
            runs.append(Run(kind, tenant, Procedure.NUMBER_REMOVAL.workflow_id(number),
                            {anna: 1}, number=number))  # fmt: skip
    return runs


# --- the platform side ---------------------------------------------------------------------------


def prepare(stack: Stack, runs: list[Run], rng: random.Random) -> None:
    """Each run's tenant (and devices, numbers, licences) on the simulator."""
    with stack.api() as api:
        for run in runs:
            settings: dict[str, Any] = {
                "deactivation_seconds": round(rng.uniform(0.5, 3), 2),
                "reactivation_seconds": round(rng.uniform(0.5, 3), 2),
                "deletion_seconds": round(rng.uniform(0.5, 3), 2),
            }
            if run.kind == "reactivation":
                settings["state"] = "deactivated"
            if run.kind == "escalation":
                settings["deactivation_seconds"] = 20  # past the 4-second SLA given below
            if run.kind == "deletion":
                settings["recordings"] = 3
            stack.put_tenant(run.tenant, **settings)
            if run.kind == "mobile":
                api.put(
                    f"/admin/tenants/{run.tenant}/mobile",
                    json={"licences_total": 1, "smdp_address": SMDP},
                ).raise_for_status()
            if run.kind == "number":
                api.put(
                    f"/admin/numbers/tenants/{run.tenant}",
                    json={
                        "ecommerce_account": None,
                        "devices": [{"number": run.number, "soc_code": "CKSWDirectAdv1515"}],
                    },
                ).raise_for_status()


def _input(run: Run) -> tuple[str, BaseModel]:
    if run.kind in ("deactivation", "escalation"):
        sla = timedelta(seconds=4) if run.kind == "escalation" else timedelta(minutes=15)
        return Procedure.DEACTIVATION.value, ServiceTransitionInput(
            tenant_id=run.tenant, requested_by=run.requester, sla=sla
        )
    if run.kind == "reactivation":
        return Procedure.REACTIVATION.value, ServiceTransitionInput(
            tenant_id=run.tenant, requested_by=run.requester
        )
    if run.kind == "deletion":
        return Procedure.DELETION.value, DeletionInput(
            tenant_id=run.tenant, requested_by=run.requester
        )
    if run.kind == "mobile":
        assert run.device_id
        return Procedure.MOBILE_LINE.value, MobileLineInput(
            device_id=run.device_id, tenant_id=run.tenant, user_id=f"{run.tenant}-u1"
        )
    assert run.number
    return Procedure.NUMBER_REMOVAL.value, NumberRemovalInput(
        tenant_id=run.tenant, numbers=[run.number], requested_by=run.admin
    )


# --- retrying through outages --------------------------------------------------------------------


class NotYet(Exception):
    """The procedure refused an operator step for now ("still being provisioned"): try later."""


async def persist(what: Callable[[], Awaitable[Any]], timeout: float = 15, every: float = 1) -> Any:
    """Try until it works: RPC errors (a restarting server) and timeouts (no worker) wait."""
    while True:
        try:
            return await asyncio.wait_for(what(), timeout)
        except (
            NotYet,
            RPCError,
            RPCTimeoutOrCancelledError,
            TimeoutError,
            RuntimeError,
            httpx.HTTPError,
        ):
            await asyncio.sleep(every)


class Operator:
    """Starts the procedures and does what a person does for each, until all have ended."""

    def __init__(self, stack: Stack, runs: list[Run], report: Report) -> None:
        self.stack = stack
        self.runs = runs
        self.report = report
        self.began = time.monotonic()
        self.client: Client | None = None
        self.http = httpx.AsyncClient(
            base_url=stack.platform_url,
            headers={"Authorization": f"Bearer {TOKEN}", **ADMIN_HEADERS},
            timeout=10,
        )

    def elapsed(self) -> float:
        return time.monotonic() - self.began

    def in_flight(self) -> int:
        return sum(1 for run in self.runs if run.result is None and run.failure is None)

    def note(self, what: str) -> None:
        """A disruption, with when it happened and how many procedures were in flight."""
        self.report.disruptions.append(
            f"{what} at {self.elapsed():.1f}s ({self.in_flight()} procedures in flight)"
        )

    async def connect(self) -> Client:
        settings = Settings(_env_file=None, temporal_address=self.stack.temporal_address)
        self.client = await persist(lambda: connect(settings), timeout=20)
        return self.client

    async def start(self, run: Run) -> None:
        assert self.client is not None
        workflow, payload = _input(run)
        procedure = Procedure(workflow)

        async def go() -> None:
            try:
                await self.client.start_workflow(  # type: ignore[union-attr]
                    workflow,
                    payload,
                    id=run.workflow_id,
                    task_queue=self.stack.task_queue,
                    search_attributes=TypedSearchAttributes(
                        [
                            SearchAttributePair(sa.TENANT_ID, run.tenant),
                            SearchAttributePair(sa.PROCEDURE_NAME, procedure.value),
                            SearchAttributePair(sa.STEP, "requesting"),
                        ]
                    ),
                )
            except RPCError as err:
                if "already" not in str(err).lower():  # a start that got through before
                    raise

        await persist(go)

    async def _mail_text(self, address: str, subject_word: str) -> str:
        while True:
            try:
                found = await self.http.get("/api/v1/search", params={"query": f"to:{address}"})
                for message in found.json()["messages"]:
                    if subject_word in message["Subject"]:
                        detail = await self.http.get(f"/api/v1/message/{message['ID']}")
                        return str(detail.json()["Text"])
            except httpx.HTTPError:
                pass
            await asyncio.sleep(1)

    async def _update(self, run: Run, name: str, arg: BaseModel) -> None:
        """A stable Update id: a retry after a lost answer is the same Update, never a second."""
        assert self.client is not None
        handle = self.client.get_workflow_handle(run.workflow_id)

        async def send() -> None:
            try:
                await handle.execute_update(name, arg, id=f"chaos-{name}")
            except WorkflowUpdateFailedError as err:
                message = str(getattr(err.cause, "message", err.cause))
                if "already confirmed" in message or "is deleted" in message:
                    return  # an earlier attempt got through and its answer was lost
                if "still being provisioned" in message or "try again" in message:
                    raise NotYet(message) from err
                raise

        await persist(send, timeout=20)

    async def _activate(self, run: Run) -> None:
        text = await self._mail_text(run.admin, "Attiva")  # the tenants are Italian
        code = re.search(r"LPA:1\$[^$\s]+\$(\S+)", text)
        assert code, text
        while True:
            try:
                answer = await self.http.post(
                    "/phone/esim/activate", json={"activation_code": f"LPA:1${SMDP}${code[1]}"}
                )
                if answer.status_code == 200 or "already used" in answer.text:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(1)  # an injected 500 changed nothing: try again

    async def _online(self, run: Run) -> None:
        """As ``pbxops mobile status`` would show it: the line's own workflow says online."""
        assert self.client is not None
        handle = self.client.get_workflow_handle(run.workflow_id)

        async def online() -> None:
            status = await handle.query("status")
            if status["device_status"] != "online":
                raise NotYet(status["device_status"])

        await persist(online)

    async def operate(self, run: Run) -> None:
        """The person's part of the procedure, then its result. A procedure that ends before the
        person's part is done (it failed) stops the person waiting for an email that never comes."""
        steps = asyncio.create_task(self._steps(run))
        result = asyncio.create_task(self._result(run))
        await asyncio.wait({steps, result}, return_when=asyncio.FIRST_COMPLETED)
        if result.done() and not steps.done():
            steps.cancel()
        else:
            await steps  # raises what went wrong in the person's part
        await result

    async def _steps(self, run: Run) -> None:
        if run.kind == "deletion":
            text = await self._mail_text(run.admin, "ELIMINAZIONE")  # the tenants are Italian
            code = re.search(r":\s+(\d{8})\s*$", text, re.MULTILINE)
            assert code, text
            assert self.client is not None
            handle = self.client.get_workflow_handle(run.workflow_id)
            # Sealed to the worker's key, as the CLI sends it; sealed once, so a retried Update
            # is the same Update.
            request = await persist(
                lambda: confirmation(handle, code[1], by="chaos@provider.example"), timeout=20
            )
            await self._update(run, "confirm", request)
        if run.kind == "mobile":
            await self._activate(run)
            await self._online(run)
            await self._update(run, "delete", DeleteRequest(requested_by="chaos operator"))

    async def _result(self, run: Run) -> None:
        assert self.client is not None
        result_type = {
            "deactivation": ServiceTransitionResult,
            "escalation": ServiceTransitionResult,
            "reactivation": ServiceTransitionResult,
            "deletion": DeletionResult,
            "mobile": MobileLineResult,
            "number": NumberRemovalResult,
        }[run.kind]
        handle = self.client.get_workflow_handle(run.workflow_id, result_type=result_type)

        async def outcome() -> None:
            try:
                run.result = await handle.result(follow_runs=True)
            except WorkflowFailureError as err:
                run.failure = str(getattr(err.cause, "message", err.cause))

        await persist(outcome, timeout=30)

    async def close(self) -> None:
        await self.http.aclose()


# --- the verdict ---------------------------------------------------------------------------------


def wrong_outcome(run: Run, stack: Stack) -> str | None:
    """Why this run's outcome is not the intended one (None when it is)."""
    if run.failure is not None:
        return f"{run.workflow_id} failed: {run.failure}"
    result = run.result
    expected_state = {
        "deactivation": ServiceState.DEACTIVATED,
        "escalation": ServiceState.DEACTIVATED,
        "reactivation": ServiceState.ACTIVE,
        "deletion": ServiceState.DELETED,
    }
    with stack.api() as api:
        if run.kind in expected_state:
            state = api.get(f"/pbx/tenants/{run.tenant}").json()["service"]["state"]
            if state != expected_state[run.kind].value:
                return f"{run.tenant} is {state}, expected {expected_state[run.kind].value}"
        # An "escalation" run escalates when the platform is still busy as its SLA passes; under
        # chaos the request itself may be delayed past the job's end, and then pbxops rightly finds
        # the service done and opens nothing. Every other run must never escalate.
        if (
            isinstance(result, ServiceTransitionResult)
            and result.escalated
            and run.kind != "escalation"
        ):
            return f"{run.workflow_id} escalated although the platform was fast"
        if isinstance(result, DeletionResult) and result.phase != Phase.CONFIRMED:
            return f"{run.workflow_id} ended {result.phase.value}"
        if run.kind == "mobile":
            devices = api.get(f"/pbx/tenants/{run.tenant}/mobile/devices").json()
            if [d["status"] for d in devices] != ["deleted"]:
                return f"{run.tenant} devices {[d['status'] for d in devices]}"
            if api.get(f"/pbx/tenants/{run.tenant}/mobile").json()["licences_available"] != 1:
                return f"{run.tenant}: the licence did not return to the pool"
        if isinstance(result, NumberRemovalResult) and result.removed != 1:
            return f"{run.workflow_id} removed {result.removed}"
    return None


def account(stack: Stack, runs: list[Run], report: Report) -> None:
    """Emails per recipient and tickets per procedure, against what each run must leave."""
    with (
        httpx.Client(base_url=stack.platform_url, headers=ADMIN_HEADERS, timeout=10) as mailbox,
        stack.api() as api,
    ):
        for run in runs:
            for address, expected in run.mail.items():
                found = mailbox.get("/api/v1/search", params={"query": f"to:{address}"}).json()
                subjects = Counter(m["Subject"] for m in found["messages"])
                report.emails += sum(subjects.values())
                report.duplicates += [
                    f"{address}: {count} x {subject!r}"
                    for subject, count in subjects.items()
                    if count > 1
                ]
                if sum(subjects.values()) != expected:
                    report.missing.append(
                        f"{address}: {sum(subjects.values())} email(s), expected {expected}"
                    )
            escalated = bool(getattr(run.result, "escalated", False))
            report.escalations += int(escalated)
            run.tickets = int(escalated)  # exactly one ticket per escalation, none otherwise
            tickets = api.get("/helpdesk/tickets", params={"tenant_id": run.tenant}).json()
            report.tickets += len(tickets)
            if len(tickets) > run.tickets:  # a second ticket, or one that should not exist
                report.duplicates.append(
                    f"{run.tenant}: {len(tickets)} ticket(s), expected {run.tickets}"
                )
            elif len(tickets) < run.tickets:
                report.missing.append(
                    f"{run.tenant}: {len(tickets)} ticket(s), expected {run.tickets}"
                )
            if any(t["status"] != "resolved" for t in tickets):
                report.wrong.append(f"{run.tenant}: a ticket is still open")


async def drive(
    stack: Stack,
    runs: list[Run],
    report: Report,
    chaos: Callable[["Operator"], Awaitable[None]],
    deadline_seconds: float = 900,
    before_verdict: Callable[[], None] | None = None,
) -> None:
    """Start everything, let ``chaos`` do its worst meanwhile, wait for every procedure; then
    (after ``before_verdict``, e.g. lifting the faults so the checks can read) judge."""
    operator = Operator(stack, runs, report)
    await operator.connect()
    began = operator.began = time.monotonic()
    try:
        await asyncio.gather(*(operator.start(run) for run in runs))
        chaos_task = asyncio.create_task(chaos(operator))
        await asyncio.wait_for(
            asyncio.gather(*(operator.operate(run) for run in runs), chaos_task),
            deadline_seconds,
        )
    finally:
        await operator.close()
    drained = time.monotonic()
    report.seconds_total = round(drained - began, 1)
    last = report.evidence.get("last_disruption_at", began)
    report.seconds_to_drain_after_last_disruption = round(drained - last, 1)
    report.evidence.pop("last_disruption_at", None)
    if before_verdict is not None:
        before_verdict()
    report.procedures = len(runs)
    report.kinds = dict(Counter(run.kind for run in runs))
    for run in runs:
        why = wrong_outcome(run, stack)
        if why:
            report.wrong.append(why)
        else:
            report.completed += 1
    account(stack, runs, report)
