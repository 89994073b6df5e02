"""Suite time: wall time of the whole test suite and of its eSIM tests.

The recorded figures and what they mean: docs/benchmarks.md, section 5.

Runs ``.venv/bin/pytest -q -p no:warnings --durations=0`` (what ``make test`` runs, minus the
install step and the warnings summary; pyproject's addopts spread the files over two workers)
once, timed, and reads pytest's per-test durations (setup + call + teardown) to name the longest
eSIM test and the 90-day ones. Session fixtures
(the time-skipping server, the e2e stack) are paid in the setup of the first test that uses them.

    .venv/bin/python -m bench.suite
"""

import argparse
import re
import subprocess
import time
from collections import defaultdict
from typing import Any

from bench.common import conditions, console, loadavg, table, write_results
from tests.processes import BIN, ROOT

TARGET_SECONDS = 300
_DURATION = re.compile(r"^([\d.]+)s (setup|call|teardown)\s+(\S+)$")
_OUTCOME = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)")


def run_suite(extra: list[str]) -> dict[str, Any]:
    load = loadavg()
    started = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "pytest"), "-q", "-p", "no:warnings", "--durations=0", *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    per_test: dict[str, float] = defaultdict(float)
    for line in done.stdout.splitlines():
        if match := _DURATION.match(line.strip()):
            per_test[match.group(3)] += float(match.group(1))
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    outcomes = {kind: int(n) for n, kind in _OUTCOME.findall(last)}
    mobile = {k: v for k, v in per_test.items() if "mobile" in k}
    ninety = {k: v for k, v in mobile.items() if "90" in k or "two_years" in k}
    longest = sorted(per_test.items(), key=lambda kv: -kv[1])[:10]
    failed = [line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    return {
        "command": "make bench-suite (.venv/bin/pytest -q -p no:warnings --durations=0)",
        "exit_code": done.returncode,
        "wall_seconds": round(seconds, 1),
        "target_seconds": TARGET_SECONDS,
        "summary_line": last,
        "outcomes": outcomes,
        "failed": failed[:30],
        "loadavg_at_start_end": [load, loadavg()],
        "longest_tests": [{"test": k, "seconds": round(v, 2)} for k, v in longest],
        "longest_esim_test": (
            {"test": max(mobile, key=mobile.__getitem__), "seconds": round(max(mobile.values()), 2)}
            if mobile
            else None
        ),
        "esim_90_day_tests": [
            {"test": k, "seconds": round(v, 2)} for k, v in sorted(ninety.items())
        ],
        "esim_tests_total_seconds": round(sum(mobile.values()), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (e.g. -m 'not e2e')")
    args = parser.parse_args()
    console.print("running the whole suite, timed …")
    results = {"conditions_start": conditions(), **run_suite(args.pytest_args)}
    results["conditions_end"] = conditions()
    write_results("suite", results)
    rows: list[tuple[Any, ...]] = [
        (
            "whole suite",
            results["wall_seconds"],
            f"< {TARGET_SECONDS}",
            "yes" if results["wall_seconds"] < TARGET_SECONDS else "NO",
            results["summary_line"],
        )
    ]
    if results["longest_esim_test"]:
        rows.append(
            (
                "longest eSIM test: " + results["longest_esim_test"]["test"].split("::")[-1],
                results["longest_esim_test"]["seconds"],
                "-",
                "-",
                "",
            )
        )
    for test in results["esim_90_day_tests"]:
        rows.append(("90-day test: " + test["test"].split("::")[-1], test["seconds"], "-", "-", ""))
    table("Suite time (wall seconds)", ["what", "seconds", "target", "met", "pytest"], rows)


if __name__ == "__main__":
    main()
