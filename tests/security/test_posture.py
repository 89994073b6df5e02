"""The production posture (docs/security.md): outside dev mode no process starts with a published
default or a short secret; settings errors are one line naming the variable, never its value; a
credential in a URL is never printed.

Each process runs as a real subprocess in an empty directory with no PBXOPS_* variable but the ones
the test gives (so neither the developer's .env nor the test session's dev mode leaks in).
"""

import os
import socket
import subprocess

import pytest
from pydantic import SecretStr

from pbxops.runtime.settings import SECRET_RULES, Settings, without_password
from tests.processes import BIN, ROOT

PROCESSES = {
    "cli": [str(BIN / "pbxops"), "list"],
    "worker": [str(BIN / "python"), str(ROOT / "worker.py")],
    "codec server": [str(BIN / "python"), "-m", "pbxops.runtime.codec_server"],
}
LONG_TOKEN = "t" * 40
LONG_SECRET = "s" * 64
LONG_CALLBACK_SECRET = "a-callback-secret-of-a-real-deployment-0123"
PAYLOAD_KEY = "q0J8kKp1mR2z3N5vW7yX9aB1cD3eF5gH7iJ9kL1mN3o="  # base64 of 32 bytes


def run(command: list[str], cwd, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PBXOPS_", "SIMULATOR_"))}
    env["PYTHONPATH"] = str(ROOT)  # the cwd is not the repo
    return subprocess.run(
        command, cwd=cwd, env={**env, **settings}, capture_output=True, text=True, timeout=90
    )


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("error: "), line
    return line


@pytest.mark.parametrize("process", PROCESSES)
def test_outside_dev_mode_the_dev_platform_token_stops_every_process(tmp_path, process):
    done = run(PROCESSES[process], tmp_path)  # nothing set: the dev defaults, no dev mode

    line = one_error_line(done)
    assert line.startswith("error: bad setting PBXOPS_PLATFORM_TOKEN: is a published default")
    assert "pbxops-dev-token" not in done.stderr + done.stdout
    assert list(tmp_path.iterdir()) == []  # nothing started, nothing written


@pytest.mark.parametrize(
    ("setting", "value", "reason"),
    [
        ("PBXOPS_PLATFORM_TOKEN", "e2e-token", "is a published default"),
        ("PBXOPS_PLATFORM_TOKEN", "short-but-new", "is shorter than 24 characters"),
        ("PBXOPS_CODE_SECRET", "pbxops-dev-code-secret-change-me", "is a published default"),
        ("PBXOPS_CODE_SECRET", "sixteen-chars-ok-but-short", "is shorter than 32 characters"),
        ("PBXOPS_CODEC_SERVER_TOKEN", "changeme", "is a published default"),
        (
            "PBXOPS_CALLBACK_SECRET",
            "pbxops-dev-callback-secret-change-me",
            "is a published default",
        ),
        ("PBXOPS_CALLBACK_SECRET", "e2e-callback-secret", "is a published default"),
        ("PBXOPS_PAYLOAD_KEY", "c2hvcnQ=", "is shorter than 44 characters"),
    ],
)
@pytest.mark.parametrize("process", PROCESSES)
def test_a_known_default_or_short_secret_is_named_never_shown(
    tmp_path, process, setting, value, reason
):
    settings = {"PBXOPS_PLATFORM_TOKEN": LONG_TOKEN, setting: value}

    line = one_error_line(run(PROCESSES[process], tmp_path, **settings))

    assert line.startswith(f"error: bad setting {setting}: {reason}"), line
    assert value not in line


def test_dev_mode_lets_the_dev_defaults_through(tmp_path):
    """The control: the same defaults pass with PBXOPS_DEV_MODE=1 (the CLI then fails later, at
    the Temporal server nobody runs here)."""
    done = run(
        PROCESSES["cli"], tmp_path, PBXOPS_DEV_MODE="1", PBXOPS_TEMPORAL_ADDRESS="127.0.0.1:1"
    )

    assert "bad setting" not in done.stderr
    assert one_error_line(done).startswith("error: cannot reach the Temporal server")


def test_production_settings_pass_the_posture(tmp_path):
    done = run(
        PROCESSES["cli"],
        tmp_path,
        PBXOPS_PLATFORM_TOKEN=LONG_TOKEN,
        PBXOPS_CODE_SECRET=LONG_SECRET,
        PBXOPS_CALLBACK_SECRET=LONG_CALLBACK_SECRET,
        PBXOPS_PAYLOAD_KEY=PAYLOAD_KEY,
        PBXOPS_TEMPORAL_ADDRESS="127.0.0.1:1",
    )

    assert one_error_line(done).startswith("error: cannot reach the Temporal server")


def test_the_worker_refuses_to_start_without_a_code_secret(tmp_path):
    done = run(
        PROCESSES["worker"],
        tmp_path,
        PBXOPS_PLATFORM_TOKEN=LONG_TOKEN,
        PBXOPS_CALLBACK_SECRET=LONG_CALLBACK_SECRET,
    )

    assert one_error_line(done).startswith("error: bad setting PBXOPS_CODE_SECRET: not set")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("process", PROCESSES)
def test_a_code_secret_too_short_for_the_vault_is_one_line_even_in_dev_mode(tmp_path, process):
    """16.6: it used to be a ValueError traceback from the worker's code vault."""
    done = run(PROCESSES[process], tmp_path, PBXOPS_DEV_MODE="1", PBXOPS_CODE_SECRET="short")

    assert one_error_line(done) == (
        "error: bad setting PBXOPS_CODE_SECRET: must be at least 16 characters; set a long "
        "random value"
    )


def test_a_busy_metrics_port_is_one_line_naming_the_setting(tmp_path):
    """16.6: it used to be the SDK's ValueError traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run(
            PROCESSES["worker"],
            tmp_path,
            PBXOPS_DEV_MODE="1",
            PBXOPS_SECRETS_DIR=str(tmp_path / "secrets"),
            PBXOPS_METRICS_BIND=f"127.0.0.1:{port}",
        )

    line = one_error_line(done)
    assert line.startswith(
        f"error: bad setting PBXOPS_METRICS_BIND: cannot serve metrics on 127.0.0.1:{port} "
        "(Failed starting Prometheus exporter: Address already in use"
    ), line


@pytest.mark.parametrize(
    ("command", "setting", "value", "shown"),
    [
        ("list", "PBXOPS_TEMPORAL_ADDRESS", "ops:t3mp-pw@127.0.0.1:1", "***@127.0.0.1:1"),
        (
            "deactivate",
            "PBXOPS_PLATFORM_URL",
            "http://ops:s3-pw@127.0.0.1:1",
            "http://***@127.0.0.1:1",
        ),
    ],
)
def test_a_credential_in_a_url_is_never_printed(tmp_path, command, setting, value, shown):
    """`list` reaches Temporal only; `deactivate` the platform first. Neither is listening."""
    unreachable = {
        "PBXOPS_TEMPORAL_ADDRESS": "127.0.0.1:1",
        "PBXOPS_PLATFORM_URL": "http://127.0.0.1:1",
    }
    args = [command] if command == "list" else [command, "--tenant", "acme"]
    done = run(
        [str(BIN / "pbxops"), *args],
        tmp_path,
        PBXOPS_DEV_MODE="1",
        **{**unreachable, setting: value},
    )

    line = one_error_line(done)
    assert shown in line, line
    assert "pw" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("https://ops:hunter2@pbx.example/x?y=1", "https://***@pbx.example/x?y=1"),
        ("https://token@pbx.example", "https://***@pbx.example"),
        ("http://a:p@ss@host:1/p", "http://***@host:1/p"),
        ("ops:key@temporal.example:7233", "***@temporal.example:7233"),
        ("127.0.0.1:7233", "127.0.0.1:7233"),
        ("http://host/path?mail=a@b.example", "http://host/path?mail=a@b.example"),
    ],
)
def test_without_password(address, shown):
    assert without_password(address) == shown


# Secrets that are not in the table, and why: each is the provider's own credential (no default
# exists, and its length is the provider's choice), or a key list checked by the codec itself.
NOT_IN_THE_TABLE = {
    "temporal_api_key",
    "smtp_password",
    "payload_previous_keys",
    "csu_password",
    "device_portal_password",
    "ecommerce_password",
}


def test_every_secret_setting_is_in_the_posture_table_or_exempt_with_a_reason():
    """A new secret setting (e.g. PBXOPS_CALLBACK_SECRET) fails here until it gets its one line in
    runtime/settings.py's SECRET_RULES."""
    secrets = {
        name
        for name, field in Settings.model_fields.items()
        if SecretStr in (field.annotation, *getattr(field.annotation, "__args__", ()))
    }
    ruled = {rule.setting for rule in SECRET_RULES}

    assert ruled <= set(Settings.model_fields)
    assert secrets - NOT_IN_THE_TABLE == ruled
