"""What every benchmark shares: the stack (tests/stack.py, plus the server's metrics port and the
bare worker), concurrency, the server's ``action`` counter, results files and tables.
"""

import asyncio
import itertools
import json
import os
import platform
import re
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHandle

from bench.bare import BARE_TASK_QUEUE
from pbxops.cli.history import CLOSED
from pbxops.runtime.devserver import command as devserver_command
from pbxops.runtime.settings import Settings
from pbxops.runtime.temporal import connect
from tests.processes import BIN, ROOT, Process, free_port, port_open, wait_until
from tests.stack import ADMIN_HEADERS, TOKEN, Stack
from tests.stack import tenant_body as stack_tenant_body

RESULTS = ROOT / "bench" / "results"
console = Console(width=160)


# --- the stack ----------------------------------------------------------------------------------


@dataclass
class BenchStack(Stack):
    """tests.stack.Stack with the dev server's Prometheus endpoint and the bare worker."""

    temporal_metrics_port: int = field(default_factory=free_port)
    task_queue: str = "pbxops-bench"
    worker_cache: int | None = None
    """None: worker.py as is; else its PBXOPS_MAX_CACHED_WORKFLOWS."""

    def start_temporal(self) -> None:
        args = devserver_command(
            str(self.workdir / "temporal.db"),
            self.temporal_port,
            None,
            extra=["--metrics-port", str(self.temporal_metrics_port)],
        )
        self.processes["temporal"] = Process("temporal", args, self.workdir).start()
        wait_until(lambda: port_open(self.temporal_port), 60, "the Temporal dev server")

    def start_simulator(self) -> None:
        # The simulator stands for the outside world: its request log is not what we measure.
        os.environ.setdefault("SIMULATOR_LOG_LEVEL", "WARNING")
        super().start_simulator()

    def start_bare_worker(self) -> None:
        env = {
            "PBXOPS_DEV_MODE": "1",  # a benchmark stack is a development stack
            "PBXOPS_TEMPORAL_ADDRESS": self.temporal_address,
            "PBXOPS_TASK_QUEUE": BARE_TASK_QUEUE,
        }
        args = [str(BIN / "python"), "-m", "bench.bare"]
        process = Process("bare-worker", args, self.workdir, env).start()
        self.processes["bare-worker"] = process
        wait_until(
            lambda: "bare worker started" in process.log_path.read_text(), 60, "the bare worker"
        )

    def start_worker(self, **env: str) -> None:
        """worker.py as ``make up`` runs it; ``worker_cache`` overrides its
        ``PBXOPS_MAX_CACHED_WORKFLOWS`` for experiments."""
        if self.worker_cache is not None:
            env = {**env, "PBXOPS_MAX_CACHED_WORKFLOWS": str(self.worker_cache)}
        super().start_worker(**env)

    def settings(self) -> Settings:
        return Settings(  # type: ignore[call-arg]
            _env_file=None,
            temporal_address=self.temporal_address,
            task_queue=self.task_queue,
            platform_url=self.platform_url,
            platform_token=TOKEN,
        )

    async def client(self) -> Client:
        return await connect(self.settings())

    def pid(self, name: str) -> int:
        proc = self.processes[name].proc
        assert proc is not None
        return proc.pid

    def db_files(self) -> list[Path]:
        db = self.workdir / "temporal.db"
        return [db, Path(f"{db}-wal"), Path(f"{db}-shm")]

    def db_bytes(self) -> dict[str, int]:
        db, wal, _shm = self.db_files()
        size = {"db": db.stat().st_size if db.exists() else 0}
        size["wal"] = wal.stat().st_size if wal.exists() else 0
        return size

    def actions(self) -> dict[str, float]:
        return scrape_actions(self.temporal_metrics_port)

    async def settled_actions(self, interval: float = 1.5) -> dict[str, float]:
        """The counter once it stops moving: the server publishes metrics about once a second."""
        last = self.actions()
        for _ in range(20):
            await asyncio.sleep(interval)
            now = self.actions()
            if now == last:
                return now
            last = now
        return last

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each process of the stack, and by this benchmark."""
        used = {
            name: cpu_seconds(self.pid(name)) for name, p in self.processes.items() if p.alive()
        }
        used["bench"] = cpu_seconds(os.getpid())
        return used


def quiet_sdk_logs() -> None:
    """Workflow warnings (tickets opened on purpose) and the SDK core's notices are not results."""
    import logging

    from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

    logging.getLogger("temporalio").setLevel(logging.ERROR)
    quiet = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    Runtime.set_default(
        Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=quiet))),
        error_if_already_set=False,
    )


def started_stack(workdir: Path, bare: bool = False, worker_cache: int | None = None) -> BenchStack:
    stack = BenchStack(workdir, worker_cache=worker_cache)
    try:
        stack.start()
        if bare:
            stack.start_bare_worker()
    except BaseException:
        console.print(stack.logs())
        stack.stop()
        raise
    return stack


# --- the dev server's own "action" counter -------------------------------------------------------

_ACTION_LINE = re.compile(r"^action\{(?P<labels>[^}]*)\}\s+(?P<value>[0-9.eE+-]+)$")


def scrape_actions(port: int, namespace: str = "default") -> dict[str, float]:
    """``action`` counter of the server (frontend), by ``action_type``, for one namespace."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    found: dict[str, float] = {}
    for line in text.splitlines():
        match = _ACTION_LINE.match(line)
        if not match:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
        if labels.get("namespace") != namespace:
            continue
        kind = labels.get("action_type", "?")
        found[kind] = found.get(kind, 0) + float(match["value"])
    return found


def cpu_share(
    after: dict[str, float], before: dict[str, float], seconds: float
) -> dict[str, float]:
    """Average cores used by each process over ``seconds`` (2 = both cores of this machine)."""
    return {k: round((after[k] - before.get(k, 0)) / seconds, 2) for k in after if seconds}


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, int]:
    kinds = sorted(set(after) | set(before))
    moved = {k: round(after.get(k, 0) - before.get(k, 0)) for k in kinds}
    return {k: v for k, v in moved.items() if v}


# --- driving many workflows -----------------------------------------------------------------------


@dataclass
class Run:
    n: int
    inflight: int
    seconds: float
    failures: list[str]

    @property
    def rate(self) -> float:
        return (self.n - len(self.failures)) / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "inflight": self.inflight,
            "seconds": round(self.seconds, 2),
            "per_second": round(self.rate, 2),
            "failures": len(self.failures),
            "first_failures": self.failures[:5],
        }


async def run_many(n: int, inflight: int, flow: Callable[[int], Awaitable[Any]]) -> Run:
    """Run ``flow(0..n-1)`` with at most ``inflight`` at a time; time the whole batch."""
    gate = asyncio.Semaphore(inflight)
    failures: list[str] = []

    async def one(i: int) -> None:
        async with gate:
            try:
                await flow(i)
            except Exception as err:
                failures.append(f"{i}: {type(err).__name__}: {err}"[:300])

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return Run(n, inflight, time.perf_counter() - started, failures)


async def until_event(
    handle: WorkflowHandle[Any, Any], wanted: Callable[[HistoryEvent], bool]
) -> HistoryEvent:
    """Long-poll the history (no busy polling, no worker involved) until an event matches."""
    async for event in handle.fetch_history_events(wait_new_event=True, skip_archival=True):
        if wanted(event):
            return event
        if event.event_type in CLOSED:
            raise RuntimeError(f"{handle.id} closed ({EventType.Name(event.event_type)}) first")
    raise RuntimeError(f"{handle.id}: history ended")


# --- the simulator --------------------------------------------------------------------------------


def tenant_body(tenant_id: str, **settings: Any) -> dict[str, Any]:
    """The tests' tenant, with a platform that answers at once."""
    instant = {"deactivation_seconds": 0, "reactivation_seconds": 0, "deletion_seconds": 0}
    return stack_tenant_body(tenant_id, **{**instant, **settings})


async def put_all(
    stack: Stack, requests: Iterable[tuple[str, str, dict[str, Any]]], inflight: int = 16
) -> None:
    """Send (method, path, body) admin requests to the simulator, a few at a time."""
    gate = asyncio.Semaphore(inflight)
    headers = {"Authorization": f"Bearer {TOKEN}", **ADMIN_HEADERS}
    async with httpx.AsyncClient(base_url=stack.platform_url, headers=headers, timeout=60) as api:

        async def one(method: str, path: str, body: dict[str, Any]) -> None:
            async with gate:
                response = await api.request(method, path, json=body)
                response.raise_for_status()

        await asyncio.gather(*(one(m, p, b) for m, p, b in requests))


async def put_tenants(stack: Stack, ids: Sequence[str], **settings: Any) -> None:
    await put_all(stack, (("PUT", f"/admin/tenants/{t}", tenant_body(t, **settings)) for t in ids))


async def mailbox(api: httpx.AsyncClient, address: str) -> list[dict[str, Any]]:
    found = await api.get("/api/v1/search", params={"query": f"to:{address}"})
    found.raise_for_status()
    messages: list[dict[str, Any]] = found.json()["messages"]
    return messages


# The code on its own line after its label, whatever the language ("Codice di eliminazione:").
_CODE = re.compile(r":\s+(\d{8})\s*$", re.MULTILINE)


async def deletion_code(api: httpx.AsyncClient, address: str, attempts: int = 50) -> str:
    """The 8-digit code, read from the Admin's mailbox like an Admin would."""
    for _ in range(attempts):
        try:
            for summary in await mailbox(api, address):
                if "ELIMINAZIONE" in summary["Subject"]:  # the bench's tenants are Italian
                    message = (await api.get(f"/api/v1/message/{summary['ID']}")).json()
                    if match := _CODE.search(message["Text"]):
                        return match.group(1)
        except httpx.TransportError:
            # A kept-alive connection the server closed just as it was reused (seen once in
            # 1,000 deletions at 200 in flight): a read, so simply read again.
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"no deletion code in the mailbox of {address}")


# --- measuring conditions, results and tables -----------------------------------------------------


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def conditions() -> dict[str, Any]:
    """What the figures depend on: the machine, its load right now, the code's revision."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True
            ).stdout.strip()
        )
    except OSError:
        rev, dirty = "unknown", False
    version = subprocess.run(
        [devserver_command(None)[0], "--version"], capture_output=True, text=True
    ).stdout.strip()
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "loadavg_1_5_15": loadavg(),
        "python": platform.python_version(),
        "temporal": version,
        "git": f"{rev}{'+uncommitted' if dirty else ''}",
    }


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    console.print(f"[dim]results: {path.relative_to(ROOT)}[/]")
    return path


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    out = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):
        out.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        out.add_row(*(_cell(v) for v in row))
    console.print(out)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS/VmHWM in bytes, from /proc (psutil is not installed)."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) * 1024
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def cli_env(stack: BenchStack) -> dict[str, str]:
    """The environment the ``pbxops`` CLI runs with against this stack."""
    return {**stack.processes["worker"].env, **stack.env()}


def pbxops(stack: BenchStack, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(BIN / "pbxops"), *args],
        cwd=stack.workdir,
        env=cli_env(stack),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# --- eSIM lines -----------------------------------------------------------------------------------


async def mobile_users(
    stack: Stack, prefix: str, lines: int, per_tenant: int = 500, suppress_emails: bool = False
) -> list[tuple[str, str]]:
    """Tenants with enough users and licences for ``lines`` mobile lines: (tenant, user) pairs."""
    pairs: list[tuple[str, str]] = []
    requests: list[tuple[str, str, dict[str, Any]]] = []
    for start in range(0, lines, per_tenant):
        tenant = f"{prefix}{start // per_tenant:03d}"
        count = min(per_tenant, lines - start)
        users = [
            {"id": f"u{j}", "name": f"User {j}", "email": f"u{j}@{tenant}.example", "roles": []}
            for j in range(count)
        ]
        requests.append(
            ("PUT", f"/admin/tenants/{tenant}", tenant_body(tenant, users=users, extensions=[]))
        )
        pairs += [(tenant, f"u{j}") for j in range(count)]
    await put_all(stack, requests, inflight=2)
    org = {"licences_total": per_tenant, "suppress_emails": suppress_emails}
    tenants = sorted({tenant for tenant, _ in pairs})
    await put_all(stack, (("PUT", f"/admin/tenants/{t}/mobile", org) for t in tenants), 2)
    return pairs


# --- where the time goes --------------------------------------------------------------------------


def _name(event_type: Any) -> str:
    return EventType.Name(event_type).removeprefix("EVENT_TYPE_").lower()


async def time_breakdown(
    client: Client, workflow_ids: Sequence[str], top: int = 8
) -> list[dict[str, Any]]:
    """Mean wall time between consecutive history events, by (previous → next) event type.

    Read from the histories of a sample of workflows: it shows where a procedure's latency goes
    (queue waits for a worker slot, activity bodies, the platform's callback, task round trips).
    """
    gaps: dict[str, list[float]] = {}
    for workflow_id in workflow_ids:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        events = list(history.events)
        for prev, event in itertools.pairwise(events):
            seconds = (event.event_time.ToDatetime() - prev.event_time.ToDatetime()).total_seconds()
            key = f"{_name(prev.event_type)} → {_name(event.event_type)}"
            gaps.setdefault(key, []).append(seconds)
    n = max(len(workflow_ids), 1)
    ranked = sorted(gaps.items(), key=lambda kv: -sum(kv[1]))[:top]
    return [
        {"transition": key, "seconds_per_workflow": round(sum(v) / n, 3), "count": len(v)}
        for key, v in ranked
    ]
