"""pbxops' worker with one knob turned, for experiments only (``bench.idle --worker-cache N``).

``BENCH_MAX_CACHED_WORKFLOWS`` sets the SDK worker's ``max_cached_workflows`` (default 1000):
how many workflow instances, each in its own sandbox, stay in memory between their tasks.
Everything else is ``worker.py`` unchanged.
"""

import os

import temporalio.worker

import worker

_init = temporalio.worker.Worker.__init__


def _with_cache(self: temporalio.worker.Worker, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
    kwargs.setdefault("max_cached_workflows", int(os.environ["BENCH_MAX_CACHED_WORKFLOWS"]))
    _init(self, *args, **kwargs)


temporalio.worker.Worker.__init__ = _with_cache  # type: ignore[method-assign]

if __name__ == "__main__":
    worker.main()
