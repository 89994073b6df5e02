"""The whole pbxops stack as real processes: Temporal dev server, simulator, worker.

Used by the end-to-end tests (and the benchmarks): every part is what ``make up`` runs, on free
ports, with its state in a temporary directory.
"""

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from pbxops.runtime.devserver import command as devserver_command
from tests.processes import BIN, Process, free_port, port_open, wait_until

TOKEN = "e2e-token"
# The simulator's own controls (/admin, the mailbox API, the inbox): never the platform token.
ADMIN_TOKEN = "e2e-admin-token"
ADMIN_HEADERS = {"X-Admin-Token": ADMIN_TOKEN}
# Keys the per-job credential of callback URLs; tests that forge callbacks sign with it.
CALLBACK_SECRET = "e2e-callback-secret"


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


@dataclass
class Stack:
    workdir: Path
    temporal_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    smtp_port: int = field(default_factory=free_port)
    callback_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    task_queue: str = "pbxops-e2e"
    processes: dict[str, Process] = field(default_factory=dict)

    # --- addresses and settings -----------------------------------------------------------------

    @property
    def platform_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    def env(self, **overrides: str) -> dict[str, str]:
        """The PBXOPS_* settings of the worker and the CLI for this stack."""
        return {
            # A development stack: dev secrets pass (docs/security.md, "Production posture").
            "PBXOPS_DEV_MODE": "1",
            "PBXOPS_TEMPORAL_ADDRESS": self.temporal_address,
            "PBXOPS_TASK_QUEUE": self.task_queue,
            "PBXOPS_PLATFORM_URL": self.platform_url,
            "PBXOPS_PLATFORM_TOKEN": TOKEN,
            "PBXOPS_CALLBACK_SECRET": CALLBACK_SECRET,
            "PBXOPS_SMTP_PORT": str(self.smtp_port),
            "PBXOPS_CALLBACK_PORT": str(self.callback_port),
            "PBXOPS_CALLBACK_BASE_URL": f"http://127.0.0.1:{self.callback_port}",
            "PBXOPS_METRICS_BIND": f"127.0.0.1:{self.metrics_port}",
            "PBXOPS_LOG_FORMAT": "json",
            # The operator accounts the simulator wrote into its vault beside its database.
            "PBXOPS_SECRETS_DIR": str(self.workdir / "secrets"),
            "COLUMNS": "200",
            # Who the CLI records as the operator (a confirmation without one is refused).
            "PBXOPS_OPERATOR": "ops@provider.example",
            **overrides,
        }

    # --- processes ------------------------------------------------------------------------------

    def start_temporal(self) -> None:
        args = devserver_command(str(self.workdir / "temporal.db"), self.temporal_port, None)
        self.processes["temporal"] = Process("temporal", args, self.workdir).start()
        wait_until(lambda: port_open(self.temporal_port), 60, "the Temporal dev server")

    def start_simulator(self) -> None:
        args = [
            str(BIN / "python"),
            "-m",
            "pbxsim",
            "serve",
            "--db",
            str(self.workdir / "simulator.db"),
            "--http-port",
            str(self.http_port),
            "--smtp-port",
            str(self.smtp_port),
        ]
        env = {"SIMULATOR_API_TOKEN": TOKEN, "SIMULATOR_ADMIN_TOKEN": ADMIN_TOKEN}
        self.processes["simulator"] = Process("simulator", args, self.workdir, env).start()
        wait_until(
            lambda: httpx.get(f"{self.platform_url}/healthz").is_success, 30, "the simulator"
        )

    def start_worker(self, **env: str) -> None:
        args = [str(BIN / "pbxops"), "worker"]  # what `make up` runs
        self.processes["worker"] = Process("worker", args, self.workdir, self.env(**env)).start()
        wait_until(
            lambda: httpx.get(f"http://127.0.0.1:{self.callback_port}/healthz").is_success,
            60,
            "the worker",
        )

    def start(self) -> "Stack":
        self.start_temporal()
        self.start_simulator()
        self.start_worker()
        return self

    def stop(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{p.log_tail()}" for name, p in self.processes.items())

    # --- driving it like an operator -----------------------------------------------------------

    def cli(self, *args: str, timeout: float = 120, **env: str) -> CliResult:
        done = subprocess.run(
            [str(BIN / "pbxops"), *args],
            cwd=self.workdir,  # not the repo: a developer's .env must not leak in
            env={**self.processes["worker"].env, **self.env(**env)},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return CliResult(done.returncode, done.stdout, done.stderr)

    def phone(self, *args: str, timeout: float = 60) -> CliResult:
        """``pbxsim phone …`` (the simulator's own CLI) against this stack's simulator: the
        user's phone, as a demo drives it."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SIMULATOR_", "PBXOPS_"))}
        done = subprocess.run(
            [str(BIN / "pbxsim"), "phone", *args],
            cwd=self.workdir,
            env={**env, "SIMULATOR_URL": self.platform_url, "SIMULATOR_API_TOKEN": TOKEN},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return CliResult(done.returncode, done.stdout, done.stderr)

    def api(self) -> httpx.Client:
        """The platform's API and the simulator's admin routes (both tokens)."""
        headers = {"Authorization": f"Bearer {TOKEN}", **ADMIN_HEADERS}
        return httpx.Client(base_url=self.platform_url, headers=headers, timeout=10)

    def mails_to(self, address: str) -> list[dict[str, Any]]:
        """Every message in the simulator's mailbox addressed to `address`, whole (the
        mailbox API needs the admin token)."""
        with self.api() as api:
            found = api.get("/api/v1/search", params={"query": f"to:{address}"})
            return [api.get(f"/api/v1/message/{m['ID']}").json() for m in found.json()["messages"]]

    def put_tenant(self, tenant_id: str, **settings: Any) -> dict[str, Any]:
        with self.api() as api:
            response = api.put(
                f"/admin/tenants/{tenant_id}", json=tenant_body(tenant_id, **settings)
            )
            response.raise_for_status()
            return response.json()


def tenant_body(tenant_id: str, **settings: Any) -> dict[str, Any]:
    """A test tenant: one Admin, one plain User, four registered extensions, 0.5 s jobs."""
    return {
        "name": f"{tenant_id.capitalize()} S.r.l.",
        "country": "IT",
        "timezone": "Europe/Rome",
        "state": "active",
        "billing_active": True,
        "usage_minutes": 100,
        "deactivation_seconds": 0.5,
        "reactivation_seconds": 0.5,
        "users": [
            _user(f"{tenant_id}-u1", "Anna Admin", f"anna@{tenant_id}.example", "Admin"),
            _user(f"{tenant_id}-u2", "Ugo User", f"ugo@{tenant_id}.example", "User"),
        ],
        "extensions": [
            {"number": str(100 + n), "user_id": f"{tenant_id}-u1", "registered": True}
            for n in range(4)
        ],
        **settings,
    }


def _user(user_id: str, name: str, email: str, role: str) -> dict[str, Any]:
    return {"id": user_id, "name": name, "email": email, "roles": [role]}
