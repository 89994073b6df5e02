"""Files an operator names on the command line: read bounded, written only where they can be.

Every command that takes a file uses this module, so one set of rules holds for all of them:

- **Reading** (``read_text``, ``read_mapping``): at most ``MAX_INPUT_BYTES`` are read (cap + 1
  to tell "too large"; ``/dev/zero`` costs 1 MiB, not all memory); binary content (a NUL byte)
  and text that is not UTF-8 are refused in one sentence; YAML is read with ``yaml.SafeLoader``
  but without anchors and aliases (an alias bomb expands a 1 KB file into gigabytes) and, like
  JSON, at most ``MAX_DEPTH`` levels deep (deeper raised ``RecursionError``).
- **Writing** (``check_output``, ``write_output``): the path is checked before anything starts
  (its directory exists, it is not a directory, it can be written), so a bad ``--csv`` or
  ``--png`` changes nothing; a failure while writing (``/dev/full``: no space left) is one
  sentence, and a new file left half-written is removed.
- No error repeats what the file holds (it may be ``/etc/shadow``): the option, the path, and
  where (a line number, a byte offset) are enough to find the problem.
"""

import contextlib
import functools
import json
import os
from pathlib import Path
from typing import Any

from pbxops.cli.errors import OperatorError

MAX_INPUT_BYTES = 1024 * 1024
MAX_DEPTH = 32
STDOUT = "-"


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"


def read_bytes(path: Path, option: str, *, limit: int = MAX_INPUT_BYTES) -> bytes:
    """At most ``limit`` bytes of ``path``, or one sentence why not."""
    try:
        with open(path, "rb") as file:
            data = file.read(limit + 1)
    except OSError as err:
        raise OperatorError(f"cannot read {option} '{path}': {err.strerror or err}") from None
    if len(data) > limit:
        raise OperatorError(f"{option} '{path}' is larger than {_size(limit)}")
    return data


def read_text(path: Path, option: str, *, limit: int = MAX_INPUT_BYTES) -> str:
    """The file as UTF-8 text (a BOM is allowed), refusing binary and other encodings."""
    data = read_bytes(path, option, limit=limit)
    if b"\x00" in data:
        raise OperatorError(f"{option} '{path}' is not a text file (it holds binary data)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise OperatorError(
            f"{option} '{path}' is not UTF-8 text (byte {err.start + 1} cannot be read); "
            "save it as UTF-8"
        ) from None


def _depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """How deeply lists and mappings nest (iteratively: a deep value cannot overflow here)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            if deepest > limit:
                break
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children)
    return deepest


class _Refused(Exception):
    """Raised by the loader below: a construct these files may not use, with its line."""

    def __init__(self, problem: str, line: int) -> None:
        super().__init__(problem)
        self.problem, self.line = problem, line


@functools.cache
def _yaml_loader() -> type:
    import yaml  # only the commands that read YAML need it

    class Loader(yaml.SafeLoader):
        """SafeLoader without anchors or aliases, and with a depth limit while composing."""

        _level = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.peek_event()
            line = event.start_mark.line + 1
            if isinstance(event, yaml.AliasEvent):
                raise _Refused("aliases (*name) are not allowed", line)
            if getattr(event, "anchor", None) is not None:
                raise _Refused("anchors (&name) are not allowed", line)
            self._level += 1
            try:
                if self._level > MAX_DEPTH:
                    raise _Refused(f"nested more than {MAX_DEPTH} levels deep", line)
                return super().compose_node(parent, index)
            finally:
                self._level -= 1

    return Loader


def read_mapping(path: Path, option: str) -> dict[str, Any]:
    """A YAML or JSON file (``.json``: JSON) holding a mapping; empty → ``{}``."""
    import yaml

    text = read_text(path, option)
    kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
    try:
        loader = _yaml_loader()  # a SafeLoader
        data = json.loads(text) if kind == "JSON" else yaml.load(text, Loader=loader)
    except _Refused as err:
        raise OperatorError(
            f"{path} is not valid {kind} here (line {err.line}): {err.problem}"
        ) from None
    except json.JSONDecodeError as err:
        raise OperatorError(f"{path} is not valid JSON (line {err.lineno})") from None
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        raise OperatorError(f"{path} is not valid YAML{at}") from None
    except RecursionError:
        raise OperatorError(f"{path} is nested more than {MAX_DEPTH} levels deep") from None
    if _depth(data) > MAX_DEPTH:
        raise OperatorError(f"{path} is nested more than {MAX_DEPTH} levels deep")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise OperatorError(f"{path} must hold a mapping (reseller:, customer:, admins:, ...)")
    return data


# --- output ------------------------------------------------------------------------------------


def check_output(path: Path, option: str, *, stdout_ok: bool = False) -> None:
    """Before anything starts: ``path`` can be written (``-``: stdout, if ``stdout_ok``)."""
    if str(path) == STDOUT:
        if stdout_ok:
            return
        raise OperatorError(f"{option} needs a file name ('-' is not one here)")
    if path.is_dir():
        raise OperatorError(f"{option} '{path}' is a directory; give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise OperatorError(
            f"cannot write {option} '{path}': the directory '{parent}' does not exist"
        )
    target = path if path.exists() else parent
    if not os.access(target, os.W_OK):
        raise OperatorError(f"cannot write {option} '{path}': permission denied")


def write_output(path: Path, data: str | bytes, option: str) -> None:
    """Write ``data``; a failure is one sentence, and a new file is not left half-written."""
    if str(path) == STDOUT:
        raise ValueError("standard output is the caller's to write")
    existed = path.exists()
    try:
        with open(path, "wb") as file:
            file.write(data.encode() if isinstance(data, str) else data)
    except OSError as err:
        if not existed:
            with contextlib.suppress(OSError):
                path.unlink()
        raise OperatorError(f"cannot write {option} '{path}': {err.strerror or err}") from None
