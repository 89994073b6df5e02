"""The chaos suite runs only when asked for (``make test-chaos``, i.e. ``pytest -m chaos``).

pyproject's ``addopts`` already adds ``-m "not chaos"``; a command line that gives its own ``-m``
without naming chaos (``pytest -m "not e2e"``) would bring the suite back, so it is deselected here
too unless the marker expression mentions it.
"""

from collections.abc import Iterator

import pytest

from tests.stack import Stack


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "chaos" in (config.getoption("markexpr") or "").replace("not chaos", ""):
        return
    chaos = [item for item in items if item.get_closest_marker("chaos")]
    if chaos:
        config.hook.pytest_deselected(items=chaos)
        items[:] = [item for item in items if not item.get_closest_marker("chaos")]


# The platform retries a callback the worker's receiver could not take (worker dead, Temporal
# restarting) for about 17 minutes, as webhook senders do (0.5 s doubling, 12 attempts), instead of
# the simulator's default 7.5 s. With the default, a callback lost during an outage is recovered by
# the procedure's first safety poll, at its SLA deadline: correct, but 15 minutes late for a
# deactivation and 2 business days for a deletion (see docs/reliability.md, "Findings").
CALLBACK_ATTEMPTS = "12"


@pytest.fixture
def chaos_stack(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stack]:
    """A stack of its own per scenario: a fresh Temporal SQLite file, simulator and worker."""
    monkeypatch.setenv("SIMULATOR_CALLBACK_ATTEMPTS", CALLBACK_ATTEMPTS)
    running = Stack(tmp_path_factory.mktemp("chaos"), task_queue="pbxops-chaos")
    try:
        running.start()
        yield running
    except BaseException:
        print(running.logs())
        raise
    finally:
        running.stop()
