"""runtime/shared_code.py: re-imports share code objects, never module state."""

import importlib
import sys
from pathlib import Path

import pytest

from pbxops.runtime.shared_code import SharedCodeFinder


@pytest.fixture
def probe_package(tmp_path: Path):
    package = tmp_path / "sharedcode_probe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "steps.py").write_text("seen = []\n\ndef remember(x):\n    seen.append(x)\n")
    finder = SharedCodeFinder(["sharedcode_probe"])
    sys.path.insert(0, str(tmp_path))
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n.startswith("sharedcode_probe")]:
            del sys.modules[name]


def _fresh_import():
    # What the workflow sandbox does for every workflow instance: import the module anew.
    sys.modules.pop("sharedcode_probe.steps", None)
    return importlib.import_module("sharedcode_probe.steps")


def test_reimports_share_code_but_not_state(probe_package):
    first, second = _fresh_import(), _fresh_import()

    first.remember("a")

    assert first is not second
    assert first.remember is not second.remember
    assert first.remember.__code__ is second.remember.__code__  # one compiled copy
    assert first.seen == ["a"] and second.seen == []  # separate namespaces, separate state


def test_other_packages_keep_the_normal_loader(probe_package):
    finder = SharedCodeFinder(["sharedcode_probe"])
    assert finder.find_spec("json", None) is None
    package = importlib.import_module("sharedcode_probe")
    spec = finder.find_spec("sharedcode_probe.steps", package.__path__)
    assert spec is not None and type(spec.loader).__name__ == "_SharedCodeLoader"
