"""Whatever fails, every procedure finishes, nothing is lost, nothing is done twice.

Four scenarios, each on a stack of its own (Temporal dev server on a SQLite file, the simulator,
the worker, all real processes), each with 100 procedures of mixed kinds in flight
(tests/chaos/harness.py: deactivations, reactivations, deactivations that escalate, deletions
confirmed with the code read from the mailbox, eSIM lines activated with the emailed code and then
deleted, number removals):

1. the worker is SIGKILLed at random moments, 6 times, and restarted;
2. the Temporal dev server is stopped and restarted on the same database file, twice;
3. the simulator answers 30 % of requests on every route with HTTP 500 and adds 2-second latency
   spikes; the retrying step shows in describe()'s pending activities and the current details;
4. the simulator's SMTP listener is down for a minute; every email arrives once it is back.

Every scenario then asserts: 100 % completed with the intended outcome (and the platform agrees),
exactly the expected emails per recipient and no duplicate, exactly one ticket per escalation.
Figures go to ``.data/chaos/<scenario>.json`` and docs/reliability.md. Run with
``make test-chaos`` (never part of ``make test``).
"""

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from tests.chaos.harness import Operator, Report, drive, plan, prepare
from tests.processes import ROOT
from tests.stack import ADMIN_HEADERS, TOKEN, Stack

pytestmark = pytest.mark.chaos

PROCEDURES = 100
RESULTS = ROOT / ".data" / "chaos"


def finish(report: Report, stack: Stack) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{report.scenario}.json").write_text(report.as_json())
    print(f"\n{report.scenario}: {report.as_json()}")
    assert report.completed == report.procedures == PROCEDURES, report.wrong
    assert report.wrong == []
    assert report.duplicates == []
    assert report.missing == []
    assert report.tickets == report.escalations >= 1  # the escalation path did run
    # Tokens never reach a log, whatever happened.
    for log in Path(stack.workdir).glob("*.log"):
        assert TOKEN not in log.read_text(errors="replace"), log


def run(stack: Stack, scenario: str, chaos: Any, seed: int, **options: Any) -> Report:
    rng = random.Random(seed)
    runs = plan(scenario, PROCEDURES, seed)
    prepare(stack, runs, rng)
    report = Report(scenario)
    asyncio.run(drive(stack, runs, report, chaos, **options))
    return report


def test_worker_killed_at_random_moments(chaos_stack: Stack):
    rng = random.Random(11)

    async def kill_the_worker(operator: Operator) -> None:
        report = operator.report
        for _ in range(6):
            await asyncio.sleep(rng.uniform(1.5, 6))
            chaos_stack.processes["worker"].kill()
            operator.note("SIGKILL worker")
            await asyncio.sleep(rng.uniform(0.2, 2))
            await asyncio.to_thread(chaos_stack.start_worker)
            report.evidence["last_disruption_at"] = time.monotonic()

    finish(run(chaos_stack, "worker-killed", kill_the_worker, seed=1), chaos_stack)


def test_server_restarted_on_the_same_database(chaos_stack: Stack):
    async def restart_the_server(operator: Operator) -> None:
        report = operator.report
        for pause in (3, 8):
            await asyncio.sleep(pause)
            await asyncio.to_thread(chaos_stack.processes["temporal"].stop)
            operator.note("dev server stopped")
            await asyncio.sleep(3)
            await asyncio.to_thread(chaos_stack.start_temporal)
            operator.note("dev server back")
            report.evidence["last_disruption_at"] = time.monotonic()

    finish(run(chaos_stack, "server-restarted", restart_the_server, seed=2), chaos_stack)


async def retrying_steps(client: Client, workflow_ids: list[str]) -> list[dict[str, Any]]:
    """What the UI shows of procedures stuck retrying: pending activities and current details."""
    seen = []
    for workflow_id in workflow_ids:
        handle = client.get_workflow_handle(workflow_id)
        try:
            description = await handle.describe()
        except Exception:
            continue
        for pending in description.raw_description.pending_activities:
            failure = pending.last_failure.message
            if pending.attempt >= 2 and "injected fault" in failure:
                metadata = await handle.query("__temporal_workflow_metadata")
                details = getattr(metadata, "current_details", None)
                if details is None and isinstance(metadata, dict):
                    details = metadata.get("currentDetails") or metadata.get("current_details")
                seen.append(
                    {
                        "workflow_id": workflow_id,
                        "activity_id": pending.activity_id,
                        "activity_type": pending.activity_type.name,
                        "attempt": pending.attempt,
                        "last_failure": failure,
                        "current_details": details,
                    }
                )
    return seen


def test_platform_faults_on_every_route(chaos_stack: Stack):
    with chaos_stack.api() as api:
        rule = {"route_prefix": "/", "error_rate": 0.3, "latency_ms": 2000, "latency_rate": 0.25}
        api.put("/admin/faults", json=rule).raise_for_status()

    async def watch_the_retries(operator: Operator) -> None:
        report = operator.report
        operator.note("30 % HTTP 500 + 2 s latency spikes (25 %) on every route, from the start")
        report.evidence["last_disruption_at"] = time.monotonic()
        assert operator.client is not None
        for _ in range(120):
            seen = await retrying_steps(operator.client, [r.workflow_id for r in operator.runs])
            if seen:
                report.evidence["retrying"] = seen[:3]
                return
            await asyncio.sleep(1)

    def lift_the_faults() -> None:  # the verdict reads the platform: without faults
        with chaos_stack.api() as api:
            api.delete("/admin/faults").raise_for_status()

    report = run(
        chaos_stack, "platform-faults", watch_the_retries, seed=3, before_verdict=lift_the_faults
    )
    # The UI answers "what is stuck and why": the step retrying, its attempt and the platform's
    # answer in the pending activity, and the step in the current details.
    [first, *_] = report.evidence.get("retrying") or [None]
    assert first is not None, "no retrying step was ever seen in describe()"
    assert first["attempt"] >= 2 and "500" in first["last_failure"]
    assert first["activity_id"] and first["activity_type"] and first["current_details"]
    finish(report, chaos_stack)


def test_smtp_down_for_a_minute(chaos_stack: Stack):
    async def take_mail_down(operator: Operator) -> None:
        report = operator.report
        async with httpx.AsyncClient(
            base_url=chaos_stack.platform_url,
            headers={"Authorization": f"Bearer {TOKEN}", **ADMIN_HEADERS},
        ) as api:
            (await api.post("/admin/smtp/stop")).raise_for_status()
            operator.note("SMTP down")
            stored = await api.get("/api/v1/messages", params={"limit": 1})
            report.evidence["emails_before_outage"] = stored.json()["total"]
            await asyncio.sleep(60)
            during = await api.get("/api/v1/messages", params={"limit": 1})
            report.evidence["emails_stored_while_down"] = (
                during.json()["total"] - report.evidence["emails_before_outage"]
            )
            (await api.post("/admin/smtp/start")).raise_for_status()
            operator.note("SMTP back")
            report.evidence["last_disruption_at"] = time.monotonic()

    report = run(chaos_stack, "smtp-down", take_mail_down, seed=4)
    assert report.evidence["emails_stored_while_down"] == 0
    # Most mail was due during the outage and went out after it, each message once.
    assert report.emails - report.evidence["emails_before_outage"] >= PROCEDURES
    finish(report, chaos_stack)
