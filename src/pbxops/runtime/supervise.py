"""Keep one process of the ``make up`` stack running: restart it when it dies, or on SIGHUP.

honcho (the Procfile runner behind ``make up``) stops the whole stack as soon as any entry exits.
The worker is the part a developer restarts (new code, a crash, a kill to watch Temporal recover)
and the server and the simulator are the parts that must stay up meanwhile, so the worker's entry
is this supervisor::

    python -m pbxops.runtime.supervise --name worker --pidfile .data/worker.pid -- python worker.py

- the child exits or is killed: it is started again, after 1 s, doubling up to 30 s while it
  keeps failing at once (a bad setting prints its one line each time instead of a tight loop);
- SIGHUP (``make restart-worker``): the child is stopped gracefully and started again now;
- SIGTERM or SIGINT (honcho on Ctrl-C): the child is stopped gracefully (SIGKILL after 15 s) and
  the supervisor exits; nothing is restarted and no process is left behind.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

FIRST_DELAY = 1.0
MAX_DELAY = 30.0
# A child that ran this long was healthy: its next restart waits FIRST_DELAY again.
STEADY_SECONDS = 30.0
STOP_TIMEOUT = 15.0
# How often the supervisor looks at its child and its flags: it reacts within this, and costs
# nothing measurable meanwhile.
TICK = 0.25


def exit_reason(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class Supervisor:
    def __init__(self, command: list[str], name: str, say: Callable[[str], None]) -> None:
        self.command = command
        self.name = name
        self.say = say
        self.child: subprocess.Popen[bytes] | None = None
        self.stopping = False
        self.restart_requested = False

    # The signal handlers only set a flag: the loop acts on it within a TICK, whatever it was
    # doing when the signal came (even starting the child).
    def stop(self, signum: int, _frame: FrameType | None = None) -> None:
        self.stopping = True

    def restart(self, signum: int, _frame: FrameType | None = None) -> None:
        self.restart_requested = True

    def _wait_for_child(self) -> int:
        assert self.child is not None
        stop_deadline: float | None = None
        while (code := self.child.poll()) is None:
            if (self.stopping or self.restart_requested) and stop_deadline is None:
                # Under honcho the child got the SIGTERM too (it signals the process group):
                # a second one is harmless, a graceful stop is all either asks for.
                self.child.send_signal(signal.SIGTERM)
                stop_deadline = time.monotonic() + STOP_TIMEOUT
            if stop_deadline is not None and time.monotonic() > stop_deadline:
                self.say(f"{self.name} did not stop within {STOP_TIMEOUT:g}s: killing it")
                self.child.kill()
            time.sleep(TICK)
        return code

    def _pause(self, seconds: float) -> None:
        """Sleep before a restart, cut short by a stop or a restart request."""
        until = time.monotonic() + seconds
        while time.monotonic() < until and not (self.stopping or self.restart_requested):
            time.sleep(min(TICK, max(until - time.monotonic(), 0)))

    def run(self) -> int:
        delay = FIRST_DELAY
        while not self.stopping:
            self.restart_requested = False
            started = time.monotonic()
            self.child = subprocess.Popen(self.command)
            self.say(f"{self.name} started (pid {self.child.pid})")
            code = self._wait_for_child()
            if self.stopping:
                break
            if self.restart_requested:
                self.say(f"{self.name} restarted on request ({exit_reason(code)})")
                delay = FIRST_DELAY
                continue
            if time.monotonic() - started >= STEADY_SECONDS:
                delay = FIRST_DELAY
            self.say(
                f"{self.name} stopped ({exit_reason(code)}); starting it again in {delay:g}s — "
                "the rest of the stack keeps running (Ctrl-C stops everything)"
            )
            self._pause(delay)
            delay = min(delay * 2, MAX_DELAY)
        self.say(f"{self.name} stopped; not restarting")
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="worker", help="what the messages call the child")
    parser.add_argument("--pidfile", type=Path, help="where to write this supervisor's pid")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- the command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to supervise after --")

    def say(line: str) -> None:
        print(f"supervisor: {line}", flush=True)

    supervisor = Supervisor(command, args.name, say)
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    signal.signal(signal.SIGHUP, supervisor.restart)
    if args.pidfile:
        args.pidfile.parent.mkdir(parents=True, exist_ok=True)
        args.pidfile.write_text(f"{os.getpid()}\n")
    try:
        return supervisor.run()
    finally:
        ours = args.pidfile and args.pidfile.is_file()
        if ours and args.pidfile.read_text().strip() == str(os.getpid()):
            args.pidfile.unlink()


if __name__ == "__main__":
    sys.exit(main())
