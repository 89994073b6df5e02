"""Restarting just the worker (issue 19.5): under ``make up`` the worker runs under
runtime/supervise.py, so a worker that dies comes back by itself and ``make restart-worker``
(SIGHUP) restarts it, while the dev server and the simulator stay up; Ctrl-C still stops
everything. Real processes: the stack's server and simulator, the supervised worker, honcho."""

import os
import re
import shlex
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import BIN, ROOT, Process, wait_until
from tests.stack import Stack

pytestmark = pytest.mark.e2e

STARTED = re.compile(r"supervisor: worker started \(pid (\d+)\)")


def worker_entry() -> str:
    """The Procfile's worker command, as `make up` runs it."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == "worker":
            return command.strip()
    raise AssertionError("the Procfile has no worker entry")


def started_pids(log: Path) -> list[int]:
    return [int(pid) for pid in STARTED.findall(log.read_text())] if log.exists() else []


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"  # a zombie is gone too


@pytest.fixture
def server_and_simulator(tmp_path) -> Iterator[Stack]:
    stack = Stack(tmp_path)
    try:
        stack.start_temporal()
        stack.start_simulator()
        yield stack
    finally:
        stack.stop()


def healthy(stack: Stack) -> bool:
    return httpx.get(f"http://127.0.0.1:{stack.callback_port}/healthz", timeout=1).is_success


def test_a_worker_that_dies_is_started_again_and_the_stack_stays_up(server_and_simulator):
    stack = server_and_simulator
    pidfile = stack.workdir / "worker.pid"
    command = shlex.split(worker_entry())
    assert command[1:4] == ["-m", "pbxops.runtime.supervise", "--name"]
    # The Procfile's entry with this venv's interpreter and worker command, and a test pidfile.
    venv = {".venv/bin/python": str(BIN / "python"), ".venv/bin/pbxops": str(BIN / "pbxops")}
    command = [venv.get(part, part) for part in command]
    command[command.index("--pidfile") + 1] = str(pidfile)
    supervisor = Process("worker", command, stack.workdir, stack.env()).start()
    stack.processes["worker"] = supervisor
    wait_until(lambda: healthy(stack), 60, "the supervised worker")
    [first] = started_pids(supervisor.log_path)
    assert pidfile.read_text().strip() == str(supervisor.proc.pid)

    os.kill(first, signal.SIGKILL)  # the worker dies
    wait_until(lambda: len(started_pids(supervisor.log_path)) == 2, 30, "the worker's restart")
    wait_until(lambda: healthy(stack), 60, "the restarted worker")
    assert stack.processes["temporal"].alive() and stack.processes["simulator"].alive()
    assert "worker stopped (killed by SIGKILL)" in supervisor.log_path.read_text()
    stack.put_tenant("restarted")
    done = stack.cli("deactivate", "--tenant", "restarted", "--wait")
    assert done.code == 0, done.stderr  # the new worker runs procedures

    os.kill(supervisor.proc.pid, signal.SIGHUP)  # `make restart-worker`
    wait_until(lambda: len(started_pids(supervisor.log_path)) == 3, 60, "the requested restart")
    second, third = started_pids(supervisor.log_path)[1:]
    wait_until(lambda: gone(second), 30, "the old worker's exit")
    wait_until(lambda: healthy(stack), 60, "the worker after the requested restart")
    assert stack.processes["temporal"].alive() and stack.processes["simulator"].alive()

    supervisor.stop()  # SIGTERM: the worker stops, nothing is restarted, nothing is left behind
    assert supervisor.proc.returncode == 0
    assert gone(third) and not pidfile.exists()
    assert len(started_pids(supervisor.log_path)) == 3


def test_under_honcho_a_dead_worker_does_not_stop_the_stack_and_ctrl_c_stops_all(tmp_path):
    """The Procfile's worker entry under honcho beside a stand-in for the other entries: killing
    the worker leaves the stand-in running; SIGINT to honcho (Ctrl-C) stops everything."""
    # A venv whose python is this one and whose `pbxops worker` only waits to be stopped.
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    shutil.copy(BIN.parent / "pyvenv.cfg", venv / "pyvenv.cfg")
    (venv / "lib").symlink_to(BIN.parent / "lib")
    (venv / "bin" / "python").symlink_to(BIN / "python")
    stand_in = venv / "bin" / "pbxops"
    stand_in.write_text(
        f"#!{BIN / 'python'}\n"
        "import signal, sys\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
        "print('worker up', flush=True)\n"
        "signal.pause()\n"
    )
    stand_in.chmod(0o755)
    (tmp_path / "Procfile").write_text(
        f"worker: {worker_entry()}\n"
        'server: .venv/bin/python -c \'import signal; print("server up", flush=True); '
        "signal.pause()'\n"
    )
    log = (tmp_path / "honcho.log").open("w")
    honcho = subprocess.Popen(
        [str(BIN / "honcho"), "start", "-f", "Procfile"],
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    output = tmp_path / "honcho.log"
    try:
        wait_until(lambda: "server up" in output.read_text(), 30, "the stand-in server")
        wait_until(lambda: len(started_pids(output)) == 1, 30, "the supervised worker")
        [first] = started_pids(output)

        os.kill(first, signal.SIGKILL)
        wait_until(lambda: len(started_pids(output)) == 2, 30, "the worker's restart")
        assert honcho.poll() is None  # honcho did not stop the stack
        assert "server stopped" not in output.read_text()

        honcho.send_signal(signal.SIGINT)  # Ctrl-C
        assert honcho.wait(30) is not None
    finally:
        if honcho.poll() is None:
            honcho.kill()
        log.close()
    text = output.read_text()
    second = started_pids(output)[1]
    assert gone(second), text
    assert "worker stopped; not restarting" in text
    assert len(started_pids(output)) == 2, text  # nothing restarted on the way out
    assert not (tmp_path / ".data" / "worker.pid").exists()
