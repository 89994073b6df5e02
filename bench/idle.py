"""Idle cost of waiting procedures (docs/benchmarks.md, section 3).

10,000 eSIM lines pending activation on one worker (``MobileLine``: each provisioned — a licence,
its first activation code — then waiting on its one 90-day timer for the phone's callback):

- start rate: the ``start_workflow`` calls (as ``pbxops mobile provision`` makes them), 200 in
  flight, and the rate at which the lines became pending (provisioned by the worker against the
  simulator; the organisations suppress emails so that 10,000 QR emails do not dominate);
- worker RSS after (``VmRSS`` of /proc/<pid>/status, and the peak ``VmHWM``);
- worker CPU over 60 idle seconds (utime + stime from /proc/<pid>/stat), and the server's;
- SQLite bytes per open workflow: growth of the dev server's database file + its ``-wal``
  divided by the lines, and the same for a bare 90-day sleeper (``bench.bare``, one no-op
  activity then ``workflow.sleep(90 days)``) as the floor to compare with.

    .venv/bin/python -m bench.idle [--lines 10000] [--sleepers 1000] [--idle-seconds 60] [--quick]
"""

import argparse
import asyncio
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy

from bench.bare import BARE_TASK_QUEUE, BareInput, BareWorkflow
from bench.common import (
    BenchStack,
    conditions,
    console,
    cpu_seconds,
    cpu_share,
    loadavg,
    mobile_users,
    proc_status,
    run_many,
    started_stack,
    table,
    write_results,
)
from pbxops.contracts import search_attributes as sa
from pbxops.contracts.mobile import MobileLineInput
from pbxops.contracts.procedures import Procedure
from pbxops.runtime.settings import Settings

TARGETS = {"start_per_second": 50, "worker_rss_mb": 150, "bytes_per_workflow": 20 * 1024}


async def count(client: Client, query: str) -> int:
    return (await client.count_workflows(query)).count


async def wait_for(client: Client, query: str, n: int, within: float) -> float:
    """Seconds until ``query`` counts ``n`` workflows (visibility is immediate on SQLite)."""
    started = time.perf_counter()
    while time.perf_counter() - started < within:
        if await count(client, query) >= n:
            return time.perf_counter() - started
        await asyncio.sleep(1)
    raise TimeoutError(f"{query}: fewer than {n} after {within:.0f}s")


def db_growth(stack: BenchStack, before: dict[str, int], n: int) -> dict[str, Any]:
    after = stack.db_bytes()
    grown = sum(after.values()) - sum(before.values())
    return {
        "before": before,
        "after": after,
        "grown_bytes": grown,
        "bytes_per_workflow": round(grown / n) if n else None,
    }


async def lines(stack: BenchStack, client: Client, n: int, inflight: int) -> dict[str, Any]:
    console.print(f"preparing {n} users with licences (organisations suppress emails) …")
    pairs = await mobile_users(stack, "idle-", n, per_tenant=500, suppress_emails=True)
    before = stack.db_bytes()

    async def start(i: int) -> None:
        tenant, user = pairs[i]
        device = f"md-idle{i:06d}"
        await client.start_workflow(
            Procedure.MOBILE_LINE.value,
            MobileLineInput(device_id=device, tenant_id=tenant, user_id=user),
            id=Procedure.MOBILE_LINE.workflow_id(device),
            task_queue=stack.task_queue,
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

    console.print(f"starting {n} MobileLine workflows, {inflight} start calls in flight …")
    cpu0 = stack.cpu()
    t0 = time.perf_counter()
    started = await run_many(n, inflight, start)
    load_at_start = loadavg()
    console.print(f"  started: {started.rate:.1f}/s ({started.seconds:.1f}s)")
    query = "WorkflowType = 'MobileLine' AND Step = 'pending-activation'"
    await wait_for(client, query, n - len(started.failures), within=3600)
    all_pending = time.perf_counter() - t0
    cores = cpu_share(stack.cpu(), cpu0, all_pending)
    console.print(f"  all pending activation after {all_pending:.1f}s ({n / all_pending:.1f}/s)")
    return {
        "lines": n,
        "start_calls": started.as_dict(),
        "until_all_pending_seconds": round(all_pending, 1),
        "pending_per_second": round(n / all_pending, 2),
        "loadavg_at_start": load_at_start,
        "cores_used_until_all_pending": cores,
        "db_before": before,
    }


async def idle(stack: BenchStack, seconds: float) -> dict[str, Any]:
    worker, server = stack.pid("worker"), stack.pid("temporal")
    await asyncio.sleep(5)  # the last workflow tasks and activity completions settle
    cpu0 = {"worker": cpu_seconds(worker), "temporal": cpu_seconds(server)}
    load0 = loadavg()
    console.print(f"idle for {seconds:.0f}s …")
    await asyncio.sleep(seconds)
    used = {
        "worker": cpu_seconds(worker) - cpu0["worker"],
        "temporal": cpu_seconds(server) - cpu0["temporal"],
    }
    memory = proc_status(worker)
    return {
        "seconds": seconds,
        "worker_cpu_seconds": round(used["worker"], 2),
        "worker_cpu_percent": round(100 * used["worker"] / seconds, 2),
        "server_cpu_seconds": round(used["temporal"], 2),
        "server_cpu_percent": round(100 * used["temporal"] / seconds, 2),
        "worker_rss_mb": round(memory["VmRSS"] / 2**20, 1),
        "worker_peak_rss_mb": round(memory["VmHWM"] / 2**20, 1),
        "loadavg_before_after": [load0, loadavg()],
    }


async def sleepers(stack: BenchStack, client: Client, n: int, inflight: int) -> dict[str, Any]:
    """The floor: bare workflows with one no-op activity, then a 90-day sleep."""
    before = stack.db_bytes()

    async def start(i: int) -> None:
        await client.start_workflow(
            BareWorkflow.run,
            BareInput(activities=1, sleep=timedelta(days=90)),
            id=f"bench-sleeper/{i:06d}",
            task_queue=BARE_TASK_QUEUE,
        )

    console.print(f"starting {n} bare 90-day sleepers …")
    run = await run_many(n, inflight, start)
    # Asleep = its timer is started; wait until no workflow task or activity is left to do.
    await asyncio.sleep(3)
    for _ in range(600):
        description = await client.get_workflow_handle(f"bench-sleeper/{n - 1:06d}").describe()
        if description.raw_description.pending_activities == [] and (
            description.raw_description.workflow_execution_info.history_length >= 11
        ):
            break
        await asyncio.sleep(1)
    await asyncio.sleep(5)
    return {"n": n, "start_calls": run.as_dict(), **db_growth(stack, before, n)}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-idle-"))
    stack = started_stack(workdir, bare=args.sleepers > 0, worker_cache=args.worker_cache)
    results: dict[str, Any] = {"conditions_start": conditions(), "targets": TARGETS}
    results["worker_max_cached_workflows"] = args.worker_cache or Settings().max_cached_workflows
    try:
        client = await stack.client()
        await asyncio.sleep(3)
        results["worker_rss_mb_at_start"] = round(
            proc_status(stack.pid("worker"))["VmRSS"] / 2**20, 1
        )
        results["esim"] = await lines(stack, client, args.lines, args.inflight)
        results["idle"] = await idle(stack, args.idle_seconds)
        results["esim"]["db"] = db_growth(stack, results["esim"].pop("db_before"), args.lines)
        if args.sleepers:
            results["bare_sleeper"] = await sleepers(stack, client, args.sleepers, args.inflight)
            bare_rss = proc_status(stack.pid("bare-worker"))["VmRSS"]
            results["bare_sleeper"]["bare_worker_rss_mb"] = round(bare_rss / 2**20, 1)
    except BaseException:
        console.print(stack.logs())
        raise
    finally:
        stack.stop()
    results["conditions_end"] = conditions()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--sleepers", type=int, default=1_000, help="bare sleepers (0: none)")
    parser.add_argument("--inflight", type=int, default=200)
    parser.add_argument("--idle-seconds", type=float, default=60)
    parser.add_argument(
        "--worker-cache",
        type=int,
        help="experiment: the worker's max_cached_workflows (default: PBXOPS_MAX_CACHED_WORKFLOWS)",
    )
    parser.add_argument("--quick", action="store_true", help="500 lines, 200 sleepers, 10 s idle")
    args = parser.parse_args()
    if args.quick:
        args.lines, args.sleepers, args.idle_seconds = 500, 200, 10
    results = asyncio.run(main_async(args))
    results["command"] = "make bench-idle" + (" (--quick)" if args.quick else "")
    name = "idle-quick" if args.quick else "idle"
    if args.worker_cache is not None:
        name += f"-cache{args.worker_cache}"
    write_results(name, results)
    esim, rest = results["esim"], results["idle"]
    rows = [
        (
            "start calls /s",
            esim["start_calls"]["per_second"],
            "≥ 50",
            esim["start_calls"]["per_second"] >= 50,
        ),
        ("lines pending activation /s", esim["pending_per_second"], "-", "-"),
        ("worker RSS after (MB)", rest["worker_rss_mb"], "≤ 150", rest["worker_rss_mb"] <= 150),
        (
            "worker CPU over idle (%)",
            rest["worker_cpu_percent"],
            "≈ 0",
            rest["worker_cpu_percent"] < 1,
        ),
        ("server CPU over idle (%)", rest["server_cpu_percent"], "-", "-"),
        (
            "SQLite bytes per open line",
            esim["db"]["bytes_per_workflow"],
            "≤ 20 KB",
            esim["db"]["bytes_per_workflow"] <= 20 * 1024,
        ),
    ]
    if "bare_sleeper" in results:
        rows.append(
            (
                "SQLite bytes per bare sleeper",
                results["bare_sleeper"]["bytes_per_workflow"],
                "-",
                "-",
            )
        )
    table(
        f"Idle cost: {esim['lines']:,} eSIM lines pending activation on one worker",
        ["measure", "value", "target", "met"],
        [
            (m, v, t, ("yes" if ok else "NO") if isinstance(ok, bool) else ok)
            for m, v, t, ok in rows
        ],
    )


if __name__ == "__main__":
    main()
