"""`--wait` when the Temporal server goes away: the same one sentence as every other command, and
none of the SDK core's coloured retry warnings (issue 19.6). A stack of its own: the test stops
its dev server."""

import subprocess
from collections.abc import Iterator

import pytest

from tests.processes import BIN, wait_until
from tests.stack import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def own_stack(tmp_path) -> Iterator[Stack]:
    stack = Stack(tmp_path)
    try:
        yield stack.start()
    finally:
        stack.stop()


def test_wait_reports_a_server_that_went_away_in_one_sentence(own_stack: Stack):
    own_stack.put_tenant("gone-away", deactivation_seconds=None)  # never finishes by itself
    waiting = subprocess.Popen(
        [str(BIN / "pbxops"), "deactivate", "--tenant", "gone-away", "--wait"],
        cwd=own_stack.workdir,
        env={**own_stack.processes["worker"].env, **own_stack.env()},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert waiting.stdout is not None
        seen = []
        # Stop the server once the procedure is waiting on the platform.
        for line in waiting.stdout:
            seen.append(line)
            if "waiting-for-platform" in line:
                break
        assert any("waiting-for-platform" in line for line in seen), seen
        own_stack.processes["temporal"].stop()
        rest, stderr = waiting.communicate(timeout=120)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    stdout = "".join(seen) + rest

    sentence = (
        f"error: cannot reach the Temporal server at {own_stack.temporal_address} "
        "(is `make up` running?)\n"
    )
    assert (waiting.returncode, stderr) == (1, sentence)
    assert "WARN" not in stdout and "\x1b" not in stdout and "temporalio_client" not in stdout
    # The same sentence as a command started while the server is away.
    wait_until(lambda: not own_stack.processes["temporal"].alive(), 10, "the server's exit")
    listed = own_stack.cli("list")
    assert (listed.code, listed.stderr) == (1, sentence)
