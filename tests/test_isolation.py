"""`make test` right after `make up` in the same checkout: no test, and no process a test starts,
reads the developer's `.data/`, `.env` or PBXOPS_* shell variables (tests/conftest.py)."""

import os
import subprocess
from pathlib import Path

from pbxsim.numbers.vault import vault_dir
from pbxsim.settings import SimulatorSettings

from pbxops.runtime.settings import Settings, secrets_dir
from tests.conftest import DEVELOPER_VARIABLES, TEST_SWITCHES
from tests.processes import BIN, ROOT, Process

SYSTEMS = ("csu", "device_portal", "ecommerce")


def outside_the_checkout(path: Path | str) -> bool:
    return not Path(path).resolve().is_relative_to(ROOT)


def test_a_test_works_outside_the_checkout_with_none_of_the_developers_settings():
    assert outside_the_checkout(Path.cwd())
    inherited = {n: v for n, v in os.environ.items() if n.startswith(DEVELOPER_VARIABLES)}
    # The one variable the suite sets itself: the `temporal` CLI's profiles read from an empty file.
    assert inherited.pop("TEMPORAL_CONFIG_FILE") == os.devnull
    assert set(inherited) <= TEST_SWITCHES
    # Every relative fallback now lands in the test's own empty directory.
    assert secrets_dir() is None
    settings = Settings()
    assert (settings.csu_username, settings.csu_password) == (None, None)
    simulator = SimulatorSettings()
    assert outside_the_checkout(simulator.db.removeprefix("sqlite:///"))
    assert outside_the_checkout(vault_dir(simulator.db))


def test_a_process_a_test_starts_works_outside_the_checkout(tmp_path):
    probe = Process("probe", [str(BIN / "python"), "-c", "import os; print(os.getcwd())"], tmp_path)
    probe.start()
    assert probe.proc is not None and probe.proc.wait(30) == 0
    assert outside_the_checkout(probe.log_path.read_text().strip())


def test_the_tests_pass_beside_a_make_up_checkout(tmp_path):
    """The reproduction of issue 19.4: pytest started from a checkout where `make up` left its
    operator vault in `.data/secrets`, with a `.env` and PBXOPS_* variables in the shell."""
    checkout = tmp_path / "checkout"
    vault = checkout / ".data" / "secrets"
    vault.mkdir(parents=True)
    for system in SYSTEMS:
        (vault / f"pbxops_{system}_username").write_text(f"make-up-{system}")
        (vault / f"pbxops_{system}_password").write_text("make-up-password")
    (checkout / ".env").write_text(
        "PBXOPS_CSU_USERNAME=from-dotenv\nPBXOPS_CSU_PASSWORD=from-dotenv\n"
    )
    shell = {
        "PBXOPS_SECRETS_DIR": str(vault),
        "PBXOPS_DEVICE_PORTAL_USERNAME": "from-shell",
        "PBXOPS_DEVICE_PORTAL_PASSWORD": "from-shell",
        "SIMULATOR_VAULT_DIR": str(vault),
    }
    tests = ROOT / "tests" / "activities" / "test_number_removal_activities.py"
    done = subprocess.run(
        [
            str(BIN / "python"),
            "-m",
            "pytest",
            "-n",
            "0",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(ROOT),
            "-c",
            str(ROOT / "pyproject.toml"),
            "--basetemp",
            str(tmp_path / "basetemp"),
            "-q",
            f"{tests}::test_refused_credentials_are_read_again_and_then_reported",
            f"{tests}::test_operator_credentials_come_from_the_secrets_dir",
        ],
        cwd=checkout,
        env={**os.environ, **shell},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "2 passed" in done.stdout
