"""Latency of a deletion request: request issued → code email in the mailbox.

The recorded figures and what they mean: docs/benchmarks.md, section 4.

One at a time, on a fresh stack (dev server, simulator, worker), a new tenant per run:

- **CLI**: ``pbxops delete --tenant … --requested-by …`` as a subprocess, from ``Popen`` until the
  Admin's mailbox (``/api/v1/search?query=to:<admin>``, polled every 20 ms) lists the code email.
  This includes the interpreter's start and the CLI's imports and preflight (tenant read from the
  platform, running procedures listed from Temporal), as an operator lives it.
- **start call**: the same ``Procedures.start`` call the CLI makes, in this process, until the
  email is listed: the procedure's own part (workflow task, Admins read, code made, SMTP).

``pbxops --help`` is timed too: the floor the CLI pays before doing anything.

    .venv/bin/python -m bench.latency [--runs 100] [--quick]
"""

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    BenchStack,
    conditions,
    console,
    mailbox,
    pbxops,
    percentile,
    put_tenants,
    started_stack,
    table,
    write_results,
)
from pbxops.cli.procedures import Procedures
from pbxops.contracts.deletion import DeletionInput
from pbxops.contracts.procedures import Procedure
from tests.processes import BIN
from tests.stack import ADMIN_HEADERS

TARGET_P95 = 1.0


async def until_code_email(mail: httpx.AsyncClient, address: str, within: float = 60) -> float:
    deadline = time.perf_counter() + within
    while time.perf_counter() < deadline:
        # The bench's tenants are Italian: "Codice per confermare l'ELIMINAZIONE ..."
        if any("ELIMINAZIONE" in m["Subject"] for m in await mailbox(mail, address)):
            return time.perf_counter()
        await asyncio.sleep(0.02)
    raise TimeoutError(f"no code email for {address} after {within:.0f}s")


async def via_cli(stack: BenchStack, mail: httpx.AsyncClient, tenant: str) -> dict[str, float]:
    t0 = time.perf_counter()
    process = pbxops(stack, "delete", "--tenant", tenant, "--requested-by", "ops@provider.example")
    emailed = await until_code_email(mail, f"anna@{tenant}.example")
    _, stderr = await asyncio.to_thread(process.communicate, timeout=60)
    if process.returncode != 0:
        raise RuntimeError(f"pbxops delete failed: {stderr.strip()}")
    return {"email": emailed - t0, "cli_exit": time.perf_counter() - t0}


async def via_start(procedures: Procedures, mail: httpx.AsyncClient, tenant: str) -> float:
    t0 = time.perf_counter()
    await procedures.start(
        Procedure.DELETION,
        tenant,
        tenant,
        DeletionInput(tenant_id=tenant, requested_by="ops@provider.example"),
        summary=f"Service deletion of {tenant}",
        details=f"Tenant **{tenant}**, benchmark.",
    )
    return await until_code_email(mail, f"anna@{tenant}.example") - t0


def help_seconds() -> float:
    t0 = time.perf_counter()
    subprocess.run([str(BIN / "pbxops"), "--help"], capture_output=True, check=True)
    return time.perf_counter() - t0


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 3),
        "p95": round(percentile(values, 95), 3),
        "max": round(max(values), 3),
        "mean": round(statistics.fmean(values), 3),
    }


async def main_async(runs: int) -> dict[str, Any]:
    stack = started_stack(Path(tempfile.mkdtemp(prefix="bench-latency-")))
    results: dict[str, Any] = {"conditions_start": conditions(), "runs": runs}
    try:
        tenants = [f"lat-cli-{i:03d}" for i in range(runs)] + [
            f"lat-api-{i:03d}" for i in range(runs)
        ]
        await put_tenants(stack, [*tenants, "lat-warm"])
        client = await stack.client()
        procedures = Procedures(client, stack.settings())
        async with httpx.AsyncClient(
            base_url=stack.platform_url, headers=ADMIN_HEADERS, timeout=30
        ) as mail:
            await via_start(procedures, mail, "lat-warm")  # first workflow task, first SMTP
            helps = [help_seconds() for _ in range(5)]
            cli = [await via_cli(stack, mail, tenant) for tenant in tenants[:runs]]
            api = [await via_start(procedures, mail, tenant) for tenant in tenants[runs:]]
        results["cli_email_seconds"] = summary([r["email"] for r in cli])
        results["cli_exit_seconds"] = summary([r["cli_exit"] for r in cli])
        results["start_call_email_seconds"] = summary(api)
        results["cli_help_seconds"] = summary(helps)
        results["target_p95_seconds"] = TARGET_P95
    except BaseException:
        console.print(stack.logs())
        raise
    finally:
        stack.stop()
    results["conditions_end"] = conditions()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="10 runs")
    args = parser.parse_args()
    if args.quick:
        args.runs = 10
    results = asyncio.run(main_async(args.runs))
    results["command"] = "make bench-latency" + (" (--quick)" if args.quick else "")
    write_results("latency-quick" if args.quick else "latency", results)
    rows = []
    for label, key in [
        ("`pbxops delete` → code email listed", "cli_email_seconds"),
        ("`pbxops delete` → CLI exits", "cli_exit_seconds"),
        ("start call → code email listed", "start_call_email_seconds"),
        ("`pbxops --help` (interpreter + imports)", "cli_help_seconds"),
    ]:
        s = results[key]
        met = "yes" if s["p95"] < TARGET_P95 else "NO"
        rows.append((label, s["n"], s["p50"], s["p95"], s["max"], met if "email" in key else "-"))
    table(
        f"Latency over {args.runs} runs, one at a time (seconds)",
        ["path", "runs", "p50", "p95", "max", "p95 < 1 s"],
        rows,
    )


if __name__ == "__main__":
    main()
