"""Fixtures for the simulator's tests: one real simulator process, and a callback receiver.

Tests share the session's simulator and stay independent by using their own tenant ids,
recipients and workflow ids (``uid``), never by resetting shared state. Like pbxops' own tests
they never read the developer's settings or ``.data/``: the ``SIMULATOR_*``/``PBXOPS_*``
variables are dropped and every test runs in an empty directory.
"""

import json
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from pbxsim.testing import SimulatorProcess

for _name in [n for n in os.environ if n.startswith(("SIMULATOR_", "PBXOPS_"))]:
    del os.environ[_name]


@pytest.fixture(scope="session", autouse=True)
def outside_the_checkout() -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix="pbxsim-tests-"))
    started_in = Path.cwd()
    os.chdir(home)
    try:
        yield home
    finally:
        os.chdir(started_in)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorProcess]:
    process = SimulatorProcess(tmp_path_factory.mktemp("simulator") / "simulator.db")
    with process:
        yield process


@pytest.fixture
def client(sim: SimulatorProcess) -> httpx.Client:
    return sim.client


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def make_tenant(sim: SimulatorProcess) -> Callable[..., dict[str, Any]]:
    """Create a tenant with two users and three registered extensions (fast 0.5 s jobs)."""

    def make(tenant_id: str, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": f"Prova {tenant_id} S.r.l.",
            "deactivation_seconds": 0.5,
            "reactivation_seconds": 0.5,
            "usage_minutes": 321,
            "users": [
                {"id": "u1", "name": "Anna Conti", "email": "anna@x.example", "roles": ["Admin"]},
                {"id": "u2", "name": "Paolo Gallo", "email": "paolo@x.example", "roles": ["User"]},
            ],
            "extensions": [
                {"number": "101", "user_id": "u1"},
                {"number": "102", "user_id": "u2"},
                {"number": "199", "user_id": None},
            ],
            **overrides,
        }
        return sim.put_tenant(tenant_id, **body)

    return make


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class CallbackReceiver:
    """A tiny HTTP server recording every POST; answers ``statuses`` in turn, then 200."""

    url: str
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    def for_path(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    state = CallbackReceiver(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            body = json.loads(self.rfile.read(length) or b"null")
            with lock:
                state.received.append(Received(self.path, dict(self.headers.items()), body))
                status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    # A short poll interval so teardown (shutdown) does not wait half a second.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fresh_sim(tmp_path: Path) -> Iterator[SimulatorProcess]:
    """A simulator of its own (own database), for tests that restart or seed it."""
    with SimulatorProcess(tmp_path / "own.db") as process:
        yield process
