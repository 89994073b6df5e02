"""``SimulatorProcess``: the real simulator as a subprocess, for this and other test suites.

    with SimulatorProcess(tmp_path / "sim.db") as sim:
        sim.client.get("/pbx/tenants").raise_for_status()     # authenticated httpx.Client
        send_mail(port=sim.smtp_port)

It picks free ports, waits for ``/healthz`` (which answers only once the SMTP server and the job
runner are up), and stops with SIGTERM (a graceful shutdown, as in production). ``restart()``
keeps the database file, so tests can prove that jobs survive a restart. The process's log goes
to a file (``log_path``), never to a pipe that could fill up and block it.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

DEFAULT_TOKEN = "pbxops-dev-token"
DEFAULT_ADMIN_TOKEN = "pbxops-dev-simulator-admin"
_PROJECT_ROOT = Path(__file__).resolve().parent.parent


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (start() retries on the rare race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


T = TypeVar("T")


def wait_for(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.05) -> T:
    """Poll until ``check()`` returns something truthy, and return it; fail after ``timeout``.

    Tests wait for behaviour (a state, a message) this way instead of sleeping a guessed time.
    """
    deadline = time.monotonic() + timeout
    value = check()
    while not value:
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
        time.sleep(interval)
        value = check()
    return value


class SimulatorNotReady(RuntimeError):
    pass


class SimulatorProcess:
    def __init__(
        self,
        db_path: str | Path | None = None,
        *,
        token: str = DEFAULT_TOKEN,
        admin_token: str = DEFAULT_ADMIN_TOKEN,
        host: str = "127.0.0.1",
        seed: bool = False,
        job_tick_seconds: float = 0.05,
        env: dict[str, str] | None = None,
        startup_timeout: float = 20.0,
    ) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if db_path is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="simulator-")
            db_path = Path(self._tmp.name) / "simulator.db"
        self.db_path = Path(db_path)
        self.log_path = self.db_path.with_name(self.db_path.name + ".log")
        self.token = token
        self.admin_token = admin_token
        self.host = host
        self.seed = seed
        self.job_tick_seconds = job_tick_seconds
        self.extra_env = dict(env or {})
        self.startup_timeout = startup_timeout
        self.http_port = 0
        self.smtp_port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._client: httpx.Client | None = None

    # --- addresses and clients -----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def platform_headers(self) -> dict[str, str]:
        """What the platform's API needs (and what a pbxops operator holds)."""
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def admin_headers(self) -> dict[str, str]:
        """What the simulator's admin routes, mailbox API and inbox need."""
        return {"X-Admin-Token": self.admin_token}

    @property
    def auth_headers(self) -> dict[str, str]:
        """Both: a test drives the platform and the simulator's controls with one client."""
        return {**self.platform_headers, **self.admin_headers}

    @property
    def client(self) -> httpx.Client:
        """A ready client: base URL, bearer token and admin token set. Closed by stop()."""
        if self._client is None:
            raise SimulatorNotReady("the simulator is not running; call start() first")
        return self._client

    def async_client(self, **kwargs: Any) -> httpx.AsyncClient:
        """A new authenticated AsyncClient; the caller closes it (``async with``)."""
        options: dict[str, Any] = {"timeout": 10.0, **kwargs}
        return httpx.AsyncClient(base_url=self.base_url, headers=self.auth_headers, **options)

    def put_tenant(self, tenant_id: str, **fields: Any) -> dict[str, Any]:
        """Create or replace a tenant (``PUT /admin/tenants/{id}``); returns the tenant JSON."""
        response = self.client.put(f"/admin/tenants/{tenant_id}", json=fields)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def tenant(self, tenant_id: str) -> dict[str, Any]:
        response = self.client.get(f"/pbx/tenants/{tenant_id}")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self, attempts: int = 3) -> Self:
        """Start on the current ports (new free ones the first time, or if they are taken)."""
        last_error: Exception | None = None
        for attempt in range(attempts):
            if attempt > 0 or not self.http_port:
                self.http_port, self.smtp_port = free_port(self.host), free_port(self.host)
            try:
                self._spawn_and_wait()
                return self
            except SimulatorNotReady as err:
                last_error = err
                self._terminate()
        raise SimulatorNotReady(f"{last_error}\n--- simulator log ---\n{self.logs()[-4000:]}")

    def _command(self) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "pbxsim",
            "serve",
            "--db",
            str(self.db_path),
            "--host",
            self.host,
            "--http-port",
            str(self.http_port),
            "--smtp-port",
            str(self.smtp_port),
        ]
        return [*command, "--seed"] if self.seed else command

    def _spawn_and_wait(self) -> None:
        env = {
            **os.environ,
            "SIMULATOR_API_TOKEN": self.token,
            "SIMULATOR_ADMIN_TOKEN": self.admin_token,
            "SIMULATOR_JOB_TICK_SECONDS": str(self.job_tick_seconds),
            "SIMULATOR_LOG_FORMAT": "json",
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(_PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p
            ),
            **self.extra_env,
        }
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self._command(),
                cwd=_PROJECT_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_healthy()
        self._client = httpx.Client(base_url=self.base_url, headers=self.auth_headers, timeout=10.0)

    def _wait_healthy(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise SimulatorNotReady(f"simulator exited with {self._process.returncode}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise SimulatorNotReady(f"simulator not healthy after {self.startup_timeout}s")

    def stop(self, timeout: float = 10.0) -> int | None:
        """Graceful stop (SIGTERM), killed if it hangs; returns the exit code."""
        if self._client is not None:
            self._client.close()
            self._client = None
        return self._terminate(timeout)

    def _terminate(self, timeout: float = 10.0) -> int | None:
        process, self._process = self._process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def restart(self) -> Self:
        """Stop and start again on the same database (and the same ports when still free)."""
        self.stop()
        return self.start()

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
