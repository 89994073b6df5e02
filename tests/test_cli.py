"""The ``pbxops`` command line itself, no stack needed: usage errors are one line (exit code 2),
help is where it always was, and ids are checked before anything is reached.

Most cases run the CLI's entry (``pbxops.cli.app._main``) in this process, the way the executable
does; a few run the real executable with no Temporal server behind its address.
"""

import os
import subprocess
from collections.abc import Iterator

import pytest
from typer.main import get_command

from pbxops.cli.app import _main, app
from tests.processes import BIN, free_port

# Each a command line that does not parse, with the one line it gets.
USAGE_ERRORS = [
    (["deactivate", "--bogus"], "No such option: --bogus (see 'pbxops deactivate --help')"),
    (
        ["deactivate", "--tenant"],
        "Option '--tenant' requires an argument (see 'pbxops deactivate --help')",
    ),
    (["deactivate"], "Missing option '--tenant' / '-t' (see 'pbxops deactivate --help')"),
    (
        ["deactivate", "--tenant", "acme", "extra"],
        "Got unexpected extra argument(s) (extra) (see 'pbxops deactivate --help')",
    ),
    (
        ["mobile", "status", "--device"],
        "Option '--device' requires an argument (see 'pbxops mobile status --help')",
    ),
    (
        ["delete", "confirm", "--tenant", "acme", "--code"],
        "Option '--code' requires an argument (see 'pbxops delete confirm --help')",
    ),
    (
        ["customer", "create", "--nmae", "ACME"],
        "No such option: --nmae (Possible options: --name, --notes) "
        "(see 'pbxops customer create --help')",
    ),
    (
        ["contacts", "add", "help@acme.example", "--account", "acme", "--as", "nobody"],
        "Invalid value for '--as': Value error, 'nobody' is not one of 'partner', 'admin' "
        "(see 'pbxops contacts add --help')",
    ),
    (
        ["cdr", "--limit", "0"],
        "Invalid value for '--limit': Input should be greater than or equal to 1 "
        "(see 'pbxops cdr --help')",
    ),
    (["bogus"], "No such command 'bogus' (see 'pbxops --help')"),
    (["mobile", "bogus"], "No such command 'bogus' (see 'pbxops mobile --help')"),
    # An option name is echoed with its control characters escaped: still one line.
    (
        ["deactivate", "--bo\x1b[2J\ngus"],
        "No such option: --bo\\x1b[2J\\x0agus (see 'pbxops deactivate --help')",
    ),
]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        _main(list(args))
    out, err = capsys.readouterr()
    code = done.value.code
    assert isinstance(code, int)
    return code, out, err


@pytest.mark.parametrize("args, line", USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS])
def test_a_command_line_that_does_not_parse_is_one_line_and_exit_code_2(capsys, args, line):
    code, out, err = run(capsys, *args)

    assert (code, out, err) == (2, "", f"error: {line}\n")


def commands() -> Iterator[tuple[list[str], object]]:
    def walk(command: object, path: list[str]) -> Iterator[tuple[list[str], object]]:
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    return walk(get_command(app), [])


EVERY_COMMAND = [path for path, _ in commands()]
GROUPS_SHOWING_HELP = [path for path, cmd in commands() if getattr(cmd, "no_args_is_help", False)]


def test_the_tree_is_the_one_the_tests_walk():
    assert len(EVERY_COMMAND) >= 35 and [] in GROUPS_SHOWING_HELP
    assert ["mobile"] in GROUPS_SHOWING_HELP and ["customer"] in GROUPS_SHOWING_HELP
    # Acting as the user's phone is the simulator's (`pbxsim phone`), never the product's.
    assert not [path for path in EVERY_COMMAND if "simulate" in path]


@pytest.mark.parametrize("path", GROUPS_SHOWING_HELP, ids=lambda p: " ".join(["pbxops", *p]))
def test_a_bare_group_still_shows_its_help(capsys, path):
    code, out, err = run(capsys, *path)

    assert code == 2 and err == ""  # as typer has it: help, and the code of a usage error
    assert " ".join(["Usage: pbxops", *path]) in out and "Commands" in out


@pytest.mark.parametrize("path", EVERY_COMMAND, ids=lambda p: " ".join(["pbxops", *p]))
def test_help_works_everywhere(capsys, path):
    code, out, err = run(capsys, *path, "--help")

    assert (code, err) == (0, "")
    assert " ".join(["Usage: pbxops", *path]) in out


# --- the real executable, with nothing listening at the Temporal address ------------------------


def pbxops(tmp_path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PBXOPS_")}
    env["PBXOPS_TEMPORAL_ADDRESS"] = f"127.0.0.1:{free_port()}"  # nothing listens there
    env["PBXOPS_DEV_MODE"] = "1"  # its dev platform token is fine here
    return subprocess.run(
        [str(BIN / "pbxops"), *args],
        cwd=tmp_path,  # not the repo: a developer's .env must not leak in
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_executable_prints_one_line_for_an_unknown_option(tmp_path):
    done = pbxops(tmp_path, "mobile", "delete", "--device", "md-1", "--yse")

    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        "error: No such option: --yse (Possible options: --by, --yes) "
        "(see 'pbxops mobile delete --help')\n"
    )


@pytest.mark.parametrize("command", ["status", "new-code", "lost-stolen", "delete"])
def test_a_bad_device_id_is_refused_before_temporal_is_reached(tmp_path, command):
    done = pbxops(tmp_path, "mobile", command, "--device", "md-x' OR '1'='1")

    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (
        "error: 'md-x' OR '1'='1' is not a device id (letters, digits, '.', '_', '-'; at most 64)\n"
    )


def test_a_good_device_id_does_reach_for_temporal(tmp_path):
    """The control of the test above: with a valid id the same command does try the server."""
    done = pbxops(tmp_path, "mobile", "status", "--device", "md-0123456789")

    assert done.returncode == 1
    assert "cannot reach the Temporal server at 127.0.0.1:" in done.stderr
