"""``make bench``: every benchmark in turn, each in its own process on its own fresh stack.

Writes ``bench/results/all.json`` (the wall time of each and of the whole) besides each
benchmark's own results file.

    .venv/bin/python -m bench.all [--quick]
"""

import argparse
import subprocess
import sys
import time

from bench.common import conditions, table, write_results
from tests.processes import BIN, ROOT

BENCHMARKS = ["throughput", "actions", "idle", "latency", "suite"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (not for the suite)")
    args = parser.parse_args()
    results: dict = {"conditions_start": conditions(), "benchmarks": {}}
    started = time.perf_counter()
    for name in BENCHMARKS:
        quick = ["--quick"] if args.quick and name in ("throughput", "idle", "latency") else []
        t0 = time.perf_counter()
        done = subprocess.run([str(BIN / "python"), "-m", f"bench.{name}", *quick], cwd=ROOT)
        results["benchmarks"][name] = {
            "exit_code": done.returncode,
            "wall_seconds": round(time.perf_counter() - t0, 1),
        }
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    results["conditions_end"] = conditions()
    results["command"] = "make bench" + (" (--quick)" if args.quick else "")
    write_results("all-quick" if args.quick else "all", results)
    rows = [(k, v["wall_seconds"], v["exit_code"]) for k, v in results["benchmarks"].items()]
    rows.append(("total", results["total_seconds"], ""))
    table("make bench: wall time (seconds)", ["benchmark", "seconds", "exit"], rows)
    sys.exit(max(v["exit_code"] for v in results["benchmarks"].values()))


if __name__ == "__main__":
    main()
