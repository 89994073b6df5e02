"""starter/files.py on its own (no stack): the rules every file argument of the CLI follows.

The catalogue (test_bad_input.py) runs the same cases through the commands; these pin the helper's
behaviour where a command cannot show it (bytes read, a half-written file removed).
"""

import os
from pathlib import Path

import pytest

from pbxops.cli import files
from pbxops.cli.errors import OperatorError


def test_at_most_the_cap_plus_one_byte_is_read_from_an_endless_file():
    with pytest.raises(OperatorError, match="is larger than 1 MiB"):
        files.read_text(Path("/dev/zero"), "--file")


def test_a_small_cap_is_said_in_bytes(tmp_path: Path):
    path = tmp_path / "x.txt"
    path.write_text("12345")
    with pytest.raises(OperatorError, match="larger than 4 bytes"):
        files.read_text(path, "--file", limit=4)
    assert files.read_text(path, "--file", limit=5) == "12345"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"a: 1\x00", "is not a text file"),
        ("name: Café".encode("latin-1"), r"is not UTF-8 text \(byte 10"),
        ("name: x".encode("utf-16"), "is not a text file"),
    ],
)
def test_binary_and_other_encodings_are_one_sentence(tmp_path: Path, content: bytes, message):
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    with pytest.raises(OperatorError, match=message):
        files.read_mapping(path, "--file")


def test_a_utf8_bom_is_fine(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_bytes("\ufeffcustomer: {name: Тест ООД}\n".encode())
    assert files.read_mapping(path, "--file") == {"customer": {"name": "Тест ООД"}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: &x [1, 2]\nb: 3\n", r"\(line 1\): anchors \(&name\) are not allowed"),
        ("a: 1\nb: *x\n", r"\(line 2\): aliases \(\*name\) are not allowed"),
        ("a: " + "[" * 33 + "]" * 33, "nested more than 32 levels deep"),
        ("a: " + "[" * 50_000 + "]" * 50_000, "nested more than 32 levels deep"),
    ],
)
def test_yaml_without_anchors_aliases_or_depth(tmp_path: Path, text: str, message: str):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(OperatorError, match=message):
        files.read_mapping(path, "--file")


def test_32_levels_are_allowed(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text("a: " + "[" * 31 + "]" * 31)
    assert "a" in files.read_mapping(path, "--file")


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a": ' * 40 + "1" + "}" * 40])
def test_deep_json_is_one_sentence(tmp_path: Path, text: str):
    path = tmp_path / "c.json"
    path.write_text(text)
    with pytest.raises(OperatorError, match="nested more than 32 levels deep"):
        files.read_mapping(path, "--file")


def test_output_paths_are_checked_before_anything(tmp_path: Path):
    with pytest.raises(OperatorError, match="is a directory"):
        files.check_output(tmp_path, "--csv")
    with pytest.raises(OperatorError, match=r"the directory .* does not exist"):
        files.check_output(tmp_path / "missing" / "x.csv", "--csv")
    with pytest.raises(OperatorError, match="needs a file name"):
        files.check_output(Path("-"), "--png")
    files.check_output(Path("-"), "--csv", stdout_ok=True)
    files.check_output(tmp_path / "new.csv", "--csv")
    assert os.listdir(tmp_path) == []


def test_a_failed_write_is_one_sentence():
    with pytest.raises(OperatorError, match="cannot write --csv '/dev/full': No space left"):
        files.write_output(Path("/dev/full"), "a,b\n" * 10_000, "--csv")
    assert Path("/dev/full").exists()  # an existing file (a device) is never removed


def test_a_new_file_is_not_left_half_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    target = tmp_path / "out.png"
    real_open = open

    class Full:
        def __init__(self, *args: object) -> None:
            self._file = real_open(*args)  # type: ignore[call-overload]

        def __enter__(self) -> "Full":
            return self

        def __exit__(self, *exc: object) -> None:
            self._file.close()

        def write(self, data: bytes) -> int:
            self._file.write(data[:10])
            raise OSError(28, "No space left on device")

    monkeypatch.setattr("builtins.open", Full)
    with pytest.raises(OperatorError, match="No space left on device"):
        files.write_output(target, b"x" * 100, "--png")
    monkeypatch.undo()
    assert not target.exists()
