"""A setting that does not validate stops every process at once with one line naming the variable
and its rule: no traceback, nothing started, nothing written."""

import os
import subprocess

import pytest

from tests.processes import BIN, ROOT

PROCESSES = {
    "cli": [str(BIN / "pbxops"), "list"],
    "worker": [str(BIN / "python"), str(ROOT / "worker.py")],
    "codec server": [str(BIN / "python"), "-m", "pbxops.runtime.codec_server"],
    "ready check": [str(BIN / "python"), "-m", "pbxops.runtime.ready"],
}


def run(command: list[str], cwd, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PBXOPS_", "SIMULATOR_"))}
    env["PYTHONPATH"] = str(ROOT)  # the cwd is not the repo: a developer's .env must not leak in
    return subprocess.run(
        command, cwd=cwd, env={**env, **settings}, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("process", PROCESSES)
def test_a_bad_pbxops_setting_is_one_line_naming_it(tmp_path, process):
    done = run(
        PROCESSES[process],
        tmp_path,
        PBXOPS_HTTP_MAX_CONNECTIONS="0",
        PBXOPS_DEACTIVATION_SLA="soon",
    )

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        "error: bad setting PBXOPS_HTTP_MAX_CONNECTIONS: Input should be greater than or equal to "
        "1; PBXOPS_DEACTIVATION_SLA: Input should be a valid timedelta, invalid digit in duration\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_the_same_setting_when_valid_gets_past_the_check(tmp_path):
    """The control of the test above: only the bad value stops the CLI."""
    done = run(
        PROCESSES["cli"],
        tmp_path,
        PBXOPS_HTTP_MAX_CONNECTIONS="1",
        PBXOPS_TEMPORAL_ADDRESS="127.0.0.1:1",  # nothing listens there
        PBXOPS_DEV_MODE="1",  # its dev platform token is fine here
    )

    assert done.returncode == 1
    assert "bad setting" not in done.stderr
    assert "cannot reach the Temporal server at 127.0.0.1:1" in done.stderr


def test_a_bad_simulator_setting_is_one_line_and_creates_no_database(tmp_path):
    database = tmp_path / "simulator.db"
    done = run(
        [str(BIN / "python"), "-m", "pbxsim"],
        tmp_path,
        SIMULATOR_DB=str(database),
        SIMULATOR_HTTP_PORT="eighty",
    )

    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        "error: bad setting SIMULATOR_HTTP_PORT: "
        "Input should be a valid integer, unable to parse string as an integer\n"
    )
    assert not database.exists()
