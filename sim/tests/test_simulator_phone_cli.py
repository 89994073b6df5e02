"""``pbxsim phone …``: the simulator's own command line acting as the user's phone.

The real executable against the session's simulator. Every error is one line on stderr,
``error: <sentence>``, exit code 1 (a refusal, an unknown device, no simulator) or 2 (a command
line that does not parse, refused before anything is reached); a refusal changes nothing.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pbxsim.testing import SimulatorProcess, free_port, wait_for

BIN = Path(sys.executable).parent


def phone(*args: str, url: str | None = None, token: str | None = None, sim=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIMULATOR_", "PBXOPS_"))}
    if sim is not None:
        env["SIMULATOR_URL"], env["SIMULATOR_API_TOKEN"] = sim.base_url, sim.token
    if url is not None:
        env["SIMULATOR_URL"] = url
    if token is not None:
        env["SIMULATOR_API_TOKEN"] = token
    return subprocess.run(
        [str(BIN / "pbxsim"), "phone", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_line_error(done: subprocess.CompletedProcess[str], code: int, expected: str) -> str:
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert expected in lines[0], lines[0]
    return lines[0]


def line(sim: SimulatorProcess, uid: str, validity_seconds: float | None = None) -> dict[str, Any]:
    """A tenant with a one-licence pool, its device pending activation and a first code."""
    sim.put_tenant(
        uid,
        name=f"Prova {uid}",
        users=[{"id": "u1", "name": "Anna", "email": "anna@x.example", "roles": ["User"]}],
        extensions=[],
    )
    client = sim.client
    org = {"licences_total": 1, "smdp_address": "smdp.cli.example"}
    client.put(f"/admin/tenants/{uid}/mobile", json=org).raise_for_status()
    device_id = f"md-{uid}"
    body = {"tenant_id": uid, "user_id": "u1"}
    client.put(f"/pbx/mobile/devices/{device_id}", json=body).raise_for_status()
    extra = {} if validity_seconds is None else {"validity_seconds": validity_seconds}
    code = client.post(
        f"/pbx/mobile/devices/{device_id}/activation-codes", json={"reason": "provision", **extra}
    )
    code.raise_for_status()
    return {"device_id": device_id, **code.json()}


def device(sim: SimulatorProcess, device_id: str) -> dict[str, Any]:
    response = sim.client.get(f"/pbx/mobile/devices/{device_id}")
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def test_the_phone_takes_a_line_through_its_life(sim: SimulatorProcess, uid):
    issued = line(sim, uid)
    device_id = issued["device_id"]

    activated = phone("activate", "--device", device_id, sim=sim)
    assert (activated.returncode, activated.stderr) == (0, "")
    assert activated.stdout.startswith(f"activated: device {device_id} is online (green)")
    assert device(sim, device_id)["status"] == "online"

    called = phone("call", "-d", device_id, "--duration", "42", "--incoming", "--json", sim=sim)
    assert called.returncode == 0, called.stderr
    record = json.loads(called.stdout)
    assert (record["device_id"], record["duration_seconds"], record["sub_client_type"]) == (
        device_id,
        42,
        "Mobile_Network",
    )
    assert record["direction"] == "TERMINATING"

    for action, status, said in (
        ("deactivate", "offline", "deactivated"),
        ("reactivate", "online", "reactivated"),
        ("remove", "pending_activation", "removed"),
    ):
        done = phone(action, "--device", device_id, sim=sim)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"{said}: device {device_id} is {status.replace('_', ' ')}")
        assert device(sim, device_id)["status"] == status

    # The used code is refused the second time (the catalogue's "used activation code").
    one_line_error(
        phone("activate", "--code", issued["activation_code"], sim=sim),
        1,
        "activation code already used",
    )


def test_a_code_typed_alone_activates_and_json_is_the_device(sim: SimulatorProcess, uid):
    issued = line(sim, uid)

    done = phone("activate", "--code", issued["matching_id"], "--json", sim=sim)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "online"


@pytest.mark.parametrize(
    "args, expected",
    [
        (["activate", "--code", "LPA:1$only-one-part"], "not an activation code"),
        (["activate", "--code", "LPA:1$smdp.cli.example$NOSUCH-CODE"], "unknown activation code"),
        (["activate", "--code", "LPA:1$other.example$@code"], "another SM-DP+ server"),
        (["activate", "--device", "md-nobody"], "mobile device 'md-nobody' not found"),
        (["remove", "--device", "md-nobody"], "mobile device 'md-nobody' not found"),
        (["call", "--device", "md-nobody"], "mobile device 'md-nobody' not found"),
        (["reactivate", "--device", "@device"], "no phone holds the line of mobile device"),
        (["call", "--device", "@device"], "is pending_activation; only an online line makes"),
        (["call", "--device", "@device", "--to", "1"], "to: String should have at least 3"),
        (["call", "--device", "@device", "--duration", "86401"], "duration_seconds: Input should"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_a_refusal_is_one_line_exit_code_1_and_changes_nothing(
    sim: SimulatorProcess, uid, args, expected
):
    issued = line(sim, uid)
    args = [a.replace("@device", issued["device_id"]).replace("@code", issued["matching_id"])
            for a in args]  # fmt: skip
    before = device(sim, issued["device_id"])

    one_line_error(phone(*args, sim=sim), 1, expected)

    assert device(sim, issued["device_id"]) == before


def test_an_expired_code_is_refused(sim: SimulatorProcess, uid):
    issued = line(sim, uid, validity_seconds=0.2)
    wait_for(lambda: device(sim, issued["device_id"])["latest_code"]["state"] == "expired", 5)

    one_line_error(
        phone("activate", "--code", issued["activation_code"], sim=sim),
        1,
        "activation code expired on",
    )
    assert device(sim, issued["device_id"])["status"] == "pending_activation"


@pytest.mark.parametrize(
    "args, line",
    [
        (["activate", "--bogus"], "unrecognized arguments: --bogus (see 'pbxsim phone activate"),
        (["activate"], "one of the arguments --code --device/-d is required"),
        (["activate", "--code", "X", "--device", "md-1"], "not allowed with argument --code"),
        (["remove"], "the following arguments are required: --device/-d"),
        (["remove", "--device", "md\x1b[2J\n1"], "'md\\x1b[2J\\n1' is not a device id"),
        (["call", "--device", "md-1", "--duration", "-1"], "-1 is negative"),
        (["call", "--device", "md-1", "--duration", "soon"], "'soon' is not a whole number"),
        (["ring", "--device", "md-1"], "invalid choice: 'ring' (choose from 'activate'"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_a_command_line_that_does_not_parse_is_one_line_and_exit_code_2(args, line):
    # Nothing listens at the URL: exit code 2, not "cannot reach", shows nothing was tried.
    done = phone(*args, url=f"http://127.0.0.1:{free_port()}")

    one_line_error(done, 2, line)


def test_no_simulator_or_a_wrong_token_is_one_line_exit_code_1(sim: SimulatorProcess):
    nowhere = f"http://127.0.0.1:{free_port()}"
    one_line_error(
        phone("remove", "--device", "md-1", "--url", nowhere),
        1,
        f"cannot reach the simulator at {nowhere}",
    )
    one_line_error(
        phone("remove", "--device", "md-1", url=sim.base_url, token="not-the-token"),
        1,
        "refused the token (check SIMULATOR_API_TOKEN)",
    )


def test_the_help_teaches_the_commands_and_where_the_simulator_is():
    group = phone("--help")
    assert group.returncode == 0 and group.stderr == ""
    for command in ("activate", "remove", "deactivate", "reactivate", "call"):
        assert command in group.stdout
    assert "SIMULATOR_URL" in group.stdout and "SIMULATOR_API_TOKEN" in group.stdout
    assert "pbxsim phone activate --device" in group.stdout

    activate = phone("activate", "--help")
    assert (
        activate.returncode == 0 and "--code" in activate.stdout and "--device" in activate.stdout
    )

    bare = phone()
    assert (bare.returncode, bare.stderr) == (2, "") and "usage: pbxsim phone" in bare.stdout

    top = subprocess.run(
        [str(BIN / "pbxsim"), "--help"], capture_output=True, text=True, timeout=60
    )
    assert top.returncode == 0 and "phone" in top.stdout


def test_with_no_token_set_it_uses_the_simulators_dev_token(sim: SimulatorProcess):
    """The session's simulator runs with the dev token: the request gets past the token check
    to the device lookup."""
    assert sim.token == "pbxops-dev-token"  # what `pbxsim serve` runs with by default

    one_line_error(
        phone("remove", "--device", "md-nobody", url=sim.base_url),
        1,
        "mobile device 'md-nobody' not found",
    )
