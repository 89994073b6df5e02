"""The worker refuses to run half-deaf: no callback receiver, no worker."""

import subprocess

from tests.processes import BIN
from tests.stack import Stack


def test_worker_exits_with_the_reason_when_its_callback_port_is_taken(stack: Stack, tmp_path):
    # The simulator already listens on its HTTP port: give the new worker that one.
    taken = str(stack.http_port)
    done = subprocess.run(
        [
            str(BIN / "python"),
            "-m",
            "pbxops.worker",
        ],  # the module entry (the stack runs `pbxops worker`)
        cwd=tmp_path,
        env={
            **stack.processes["worker"].env,
            **stack.env(
                PBXOPS_CALLBACK_PORT=taken,
                PBXOPS_TASK_QUEUE="pbxops-second-worker",
                PBXOPS_METRICS_BIND="127.0.0.1:0",
                PBXOPS_LOG_FORMAT="console",
            ),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 1
    assert f"cannot listen for platform callbacks on 127.0.0.1:{taken}" in done.stdout + done.stderr
    assert "worker started" not in done.stdout + done.stderr
