"""Throughput against the engine's ceiling (docs/benchmarks.md, section 1).

In ONE run against ONE dev server (SQLite file, WAL pragmas, as ``make up`` runs it), for each
procedure:

(a) the bare ceiling: ``bench.bare.BareWorkflow`` with as many activities (and local activities)
    as the procedure's own history shows, no-op bodies, on its own worker process;
(b) the procedure itself on pbxops' real worker against the simulator, whose platform answers at
    once (``deactivation_seconds=0``, ``deletion_seconds=0``; jobs still end on the simulator's
    200 ms job tick and report back by callback → Signal).

N workflows each, at most M in flight; the rate is N / wall time from the first start to the last
completion. Workflows are started with the same call the CLI makes (``Procedures.start``: id,
conflict policy, summary, search attributes); the CLI's preflight checks are not included.

- deactivation: start → (callback) → result, with ``requested_by`` so the completion email goes.
- deletion: start → wait for the code email (long-poll of the history until the search-attribute
  upsert that marks "awaiting-confirmation", no busy polling) → read the code from the Admin's
  mailbox (``/api/v1/search``) → ``confirm`` Update with it → result.
- eSIM line provisioning: start ``MobileLine`` → until the line is pending activation (its first
  upsert) — the workflow then lives on (one 90-day timer); its bare twin ends after its activity.

    .venv/bin/python -m bench.throughput [--quick] [--n 1000] [--inflight 200] [--only deletion]
"""

import argparse
import asyncio
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy

from bench.bare import BARE_TASK_QUEUE, BareInput, BareWorkflow
from bench.common import (
    BenchStack,
    Run,
    conditions,
    console,
    cpu_share,
    deletion_code,
    loadavg,
    mobile_users,
    put_tenants,
    run_many,
    started_stack,
    table,
    time_breakdown,
    until_event,
    write_results,
)
from pbxops.cli.deletion import confirmation
from pbxops.cli.history import search_attributes_upserted
from pbxops.cli.procedures import Procedures
from pbxops.contracts import search_attributes as sa
from pbxops.contracts.deletion import Answer, DeletionInput, DeletionResult
from pbxops.contracts.mobile import MobileLineInput
from pbxops.contracts.procedures import Procedure
from pbxops.contracts.service_transition import ServiceTransitionInput, ServiceTransitionResult
from tests.stack import ADMIN_HEADERS

TARGET_RATIO = 0.8


@dataclass
class Shape:
    """What the bare twin must do: the procedure's activities, as its history counts them."""

    activities: int
    local_activities: int
    events: int

    def bare_input(self) -> BareInput:
        return BareInput(activities=self.activities, local_activities=self.local_activities)


async def shape_of(handle: WorkflowHandle[Any, Any]) -> Shape:
    history = await handle.fetch_history()
    kinds = Counter(event.event_type for event in history.events)
    markers = [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    ]
    return Shape(
        activities=kinds[EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED],
        local_activities=len(markers),
        events=len(history.events),
    )


class Procedure_:
    """One procedure under test: how to prepare N of it and how to run one."""

    name: str
    label: str

    def __init__(self, stack: BenchStack, client: Client, tag: str) -> None:
        self.stack = stack
        self.client = client
        self.procedures = Procedures(client, stack.settings())
        self.tag = tag

    async def prepare(self, n: int) -> None:
        raise NotImplementedError

    async def flow(self, i: int) -> WorkflowHandle[Any, Any]:
        raise NotImplementedError

    def workflow_id(self, i: int) -> str:
        raise NotImplementedError


class Deactivation(Procedure_):
    name = "deactivation"
    label = "ServiceDeactivation"

    def tenant(self, i: int) -> str:
        return f"{self.tag}-deact-{i:05d}"

    async def prepare(self, n: int) -> None:
        await put_tenants(self.stack, [self.tenant(i) for i in range(n)])

    def workflow_id(self, i: int) -> str:
        return Procedure.DEACTIVATION.workflow_id(self.tenant(i))

    async def flow(self, i: int) -> WorkflowHandle[Any, Any]:
        tenant = self.tenant(i)
        started = await self.procedures.start(
            Procedure.DEACTIVATION,
            tenant,
            tenant,
            ServiceTransitionInput(tenant_id=tenant, requested_by="ops@provider.example"),
            summary=f"Service deactivation of {tenant}",
            details=f"Tenant **{tenant}**, benchmark.",
        )
        handle = self.client.get_workflow_handle(
            started.workflow_id, result_type=ServiceTransitionResult
        )
        await handle.result()
        return handle


class Deletion(Procedure_):
    name = "deletion"
    label = "ServiceDeletion"

    def __init__(self, stack: BenchStack, client: Client, tag: str) -> None:
        super().__init__(stack, client, tag)
        self.mail = httpx.AsyncClient(
            base_url=stack.platform_url, headers=ADMIN_HEADERS, timeout=30
        )

    def tenant(self, i: int) -> str:
        return f"{self.tag}-del-{i:05d}"

    async def prepare(self, n: int) -> None:
        await put_tenants(self.stack, [self.tenant(i) for i in range(n)])

    def workflow_id(self, i: int) -> str:
        return Procedure.DELETION.workflow_id(self.tenant(i))

    async def flow(self, i: int) -> WorkflowHandle[Any, Any]:
        tenant = self.tenant(i)
        started = await self.procedures.start(
            Procedure.DELETION,
            tenant,
            tenant,
            DeletionInput(tenant_id=tenant, requested_by="ops@provider.example"),
            summary=f"Service deletion of {tenant}",
            details=f"Tenant **{tenant}**, benchmark.",
        )
        handle = self.client.get_workflow_handle(started.workflow_id, result_type=DeletionResult)
        # The upsert to "awaiting-confirmation" comes after the code email went out.
        await until_event(handle, search_attributes_upserted)
        code = await deletion_code(self.mail, f"anna@{tenant}.example")
        request = await confirmation(handle, code, by="bench@provider.example")  # sealed
        answer = await handle.execute_update("confirm", request, result_type=Answer)
        assert answer.phase.value == "confirmed", answer
        result = await handle.result()
        assert result.state is not None and result.state.value == "deleted", result
        return handle


class MobileProvisioning(Procedure_):
    name = "esim"
    label = "MobileLine (provisioning)"

    async def prepare(self, n: int) -> None:
        self.pairs = await mobile_users(self.stack, f"{self.tag}-esim-", n)

    def device(self, i: int) -> str:
        return f"md-{self.tag}{i:06d}"

    def workflow_id(self, i: int) -> str:
        return Procedure.MOBILE_LINE.workflow_id(self.device(i))

    async def flow(self, i: int) -> WorkflowHandle[Any, Any]:
        tenant, user = self.pairs[i]
        device = self.device(i)
        handle = await self.client.start_workflow(
            Procedure.MOBILE_LINE.value,
            MobileLineInput(device_id=device, tenant_id=tenant, user_id=user),
            id=Procedure.MOBILE_LINE.workflow_id(device),
            task_queue=self.stack.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            static_summary=f"Mobile line {device} of {tenant}",
            static_details=f"Device **{device}** of tenant **{tenant}**, user `{user}`; benchmark.",
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(sa.TENANT_ID, tenant),
                    SearchAttributePair(sa.PROCEDURE_NAME, Procedure.MOBILE_LINE.value),
                    SearchAttributePair(sa.STEP, "provisioning"),
                ]
            ),
        )
        await until_event(handle, search_attributes_upserted)  # Step → pending-activation
        return handle


PROCEDURES: dict[str, type[Procedure_]] = {
    "deactivation": Deactivation,
    "deletion": Deletion,
    "esim": MobileProvisioning,
}


async def bare_flow(client: Client, tag: str, shape: Shape) -> Callable[[int], Awaitable[Any]]:
    async def flow(i: int) -> None:
        await client.execute_workflow(
            BareWorkflow.run,
            shape.bare_input(),
            id=f"bench-bare/{tag}-{i:06d}",
            task_queue=BARE_TASK_QUEUE,
        )

    return flow


async def measure(stack: BenchStack, name: str, n: int, inflight: int, tag: str) -> dict[str, Any]:
    client = await stack.client()
    procedure = PROCEDURES[name](stack, client, tag)
    console.print(f"[bold]{name}[/]: preparing {n + 1} tenants/users …")
    await procedure.prepare(n + 1)
    # One first, alone: its history says what the bare twin must do (and warms everything up).
    sample = await procedure.flow(n)
    shape = await shape_of(sample)
    console.print(
        f"  {procedure.label}: {shape.activities} activities, {shape.local_activities} local, "
        f"{shape.events} events → bare twin {shape.bare_input().model_dump(exclude_none=True)}"
    )
    load_before = loadavg()
    cpu0 = stack.cpu()
    bare: Run = await run_many(n, inflight, await bare_flow(client, f"{tag}-{name}", shape))
    cpu1 = stack.cpu()
    bare_cpu = cpu_share(cpu1, cpu0, bare.seconds)
    console.print(f"  (a) bare: {bare.rate:.1f}/s in {bare.seconds:.1f}s; cores used {bare_cpu}")
    real: Run = await run_many(n, inflight, procedure.flow)
    real_cpu = cpu_share(stack.cpu(), cpu1, real.seconds)
    console.print(f"  (b) {name}: {real.rate:.1f}/s in {real.seconds:.1f}s; cores used {real_cpu}")
    for failure in real.failures[:3] + bare.failures[:3]:
        console.print(f"  [red]failure[/] {failure}")
    ratio = real.rate / bare.rate if bare.rate else 0.0
    # Where a procedure's time goes, from the histories of a few in the middle of the batch.
    middle = [procedure.workflow_id(i) for i in range(n // 2, min(n // 2 + 20, n))]
    breakdown = await time_breakdown(client, middle)
    bare_ids = [f"bench-bare/{tag}-{name}-{i:06d}" for i in range(n // 2, min(n // 2 + 20, n))]
    bare_breakdown = await time_breakdown(client, bare_ids)
    for row in breakdown[:6]:
        console.print(f"    {row['seconds_per_workflow']:7.3f}s  {row['transition']}")
    return {
        "procedure": procedure.label,
        "shape": shape.__dict__,
        "bare": bare.as_dict(),
        "procedure_run": real.as_dict(),
        "cores_used": {"bare": bare_cpu, "procedure": real_cpu},
        # CPU per workflow, by process: less sensitive than rates to what else runs on the box.
        "cpu_ms_per_workflow": {
            "bare": {k: round(1000 * v * bare.seconds / n, 1) for k, v in bare_cpu.items()},
            "procedure": {k: round(1000 * v * real.seconds / n, 1) for k, v in real_cpu.items()},
        },
        "time_per_workflow": {"procedure": breakdown, "bare": bare_breakdown},
        "ratio": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "met": ratio >= TARGET_RATIO and not real.failures,
        "loadavg_before_after": [load_before, loadavg()],
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    names = args.only or list(PROCEDURES)
    workdir = Path(tempfile.mkdtemp(prefix="bench-throughput-"))
    stack = started_stack(workdir, bare=True)
    results: dict[str, Any] = {"conditions_start": conditions(), "n": args.n}
    results["inflight"] = args.inflight
    try:
        for name in names:
            results[name] = await measure(stack, name, args.n, args.inflight, "t")
    except BaseException:
        console.print(stack.logs())
        raise
    finally:
        stack.stop()
    results["conditions_end"] = conditions()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="workflows of each kind (1000)")
    parser.add_argument("--inflight", type=int, default=200, help="at most this many at once")
    parser.add_argument("--quick", action="store_true", help="N=100, 50 in flight: a smoke run")
    parser.add_argument("--only", action="append", choices=list(PROCEDURES))
    args = parser.parse_args()
    if args.quick:
        args.n, args.inflight = min(args.n, 100), min(args.inflight, 50)
    results = asyncio.run(main_async(args))
    results["command"] = "make bench-throughput" + (" (--quick)" if args.quick else "")
    write_results("throughput-quick" if args.quick else "throughput", results)
    rows = []
    for name in args.only or list(PROCEDURES):
        r = results[name]
        rows.append(
            (
                r["procedure"],
                f"{r['shape']['activities']}+{r['shape']['local_activities']}L",
                r["bare"]["per_second"],
                r["procedure_run"]["per_second"],
                r["ratio"],
                f"≥ {TARGET_RATIO}",
                "yes" if r["met"] else "NO",
                r["procedure_run"]["failures"],
            )
        )
    table(
        f"Throughput: N={args.n}, {args.inflight} in flight, one dev server (WAL), one worker",
        ["procedure", "activities", "(a) bare/s", "(b) real/s", "b/a", "target", "met", "failed"],
        rows,
    )


if __name__ == "__main__":
    main()
