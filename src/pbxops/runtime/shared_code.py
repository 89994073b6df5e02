"""Compile each workflow module once per process, however many workflows run it.

The workflow sandbox imports a workflow's module (and the helpers it imports) afresh for every
workflow instance it builds, so that no state leaks between workflows: a new module namespace,
new functions, new classes. Python's import system also reads and unmarshals the module's
bytecode anew each time, giving every instance its own copy of every code object. Code objects
are immutable, so that copy buys no isolation; it costs memory for every cached workflow and CPU
for every instance built (measured: docs/benchmarks.md, section 3).

``install()`` puts a finder in front of ``sys.meta_path`` for the named packages whose loader
keeps the code objects it has loaded and hands the same ones out again. Each import still runs the
module's code in a fresh namespace, so the sandbox's isolation and its restrictions are unchanged.
"""

import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Sequence
from types import CodeType, ModuleType


class _SharedCodeLoader(importlib.machinery.SourceFileLoader):
    _codes: dict[str, CodeType] = {}
    _lock = threading.Lock()  # the sandbox builds instances on several threads

    def get_code(self, fullname: str) -> CodeType:
        with self._lock:
            code = self._codes.get(self.path)
            if code is None:
                code = super().get_code(fullname)
                if code is None:  # pragma: no cover - source files always have code
                    raise ImportError(f"no code for {fullname}", name=fullname)
                self._codes[self.path] = code
            return code


class SharedCodeFinder(importlib.abc.MetaPathFinder):
    def __init__(self, packages: Sequence[str]) -> None:
        self.packages = frozenset(packages)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not any(fullname == p or fullname.startswith(p + ".") for p in self.packages):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or type(spec.loader) is not importlib.machinery.SourceFileLoader:
            return spec
        spec.loader = _SharedCodeLoader(fullname, spec.loader.path)
        return spec


def install(packages: Sequence[str] = ("pbxops.workflows",)) -> None:
    """Idempotent; call before the worker (or a replayer) imports the workflows."""
    if not any(isinstance(finder, SharedCodeFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, SharedCodeFinder(packages))
