"""``pbxsim phone …``: act as a user's phone against a running simulator (demos and tests).

The phone's routes (``/phone/…``) exist only in the simulator: a real phone talks to the
operator's network, never to pbxops. So these commands belong to the simulator's command line,
not the product's. Each one is a single HTTP request with the platform token (the ``/phone``
routes take the same bearer token as ``/pbx``); the platform then reports the event to the
line's workflow, as a real one would.

Every error is one line on stderr, ``error: <sentence>``: exit code 2 for a command line that
does not parse, 1 for anything else (a refusal, an unknown device, no simulator listening).
"""

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn
from urllib.parse import quote

import httpx

from pbxsim.settings import SimulatorSettings

PROG = "pbxsim phone"
DEFAULT_URL = "http://127.0.0.1:8080"
# The simulator's own dev default, so `pbxsim serve` and `pbxsim phone` agree out of the box.
DEFAULT_TOKEN = SimulatorSettings.model_fields["api_token"].default.get_secret_value()
TIMEOUT_SECONDS = 10.0
USAGE_ERROR = 2

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # the platform's id syntax
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_COLOURS = {"online": "green", "offline": "red", "pending_activation": "grey"}

_ENVIRONMENT = f"""\
environment:
  SIMULATOR_URL        the simulator's address when --url is not given ({DEFAULT_URL})
  SIMULATOR_API_TOKEN  the platform token the simulator runs with (default: its dev token)
"""


class PhoneError(Exception):
    """A refusal or a failure the user can act on; the message is one sentence."""


def printable(text: str) -> str:
    """Control characters written as escapes: a bad value echoed back cannot break the line."""
    return _CONTROL.sub(lambda found: repr(found.group())[1:-1], text)


def _fail(message: str, code: int) -> NoReturn:
    sys.stderr.write(f"error: {printable(message)}\n")
    raise SystemExit(code)


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line naming the help to read, exit code 2."""

    def error(self, message: str) -> NoReturn:
        _fail(f"{message} (see '{self.prog} --help')", USAGE_ERROR)


def _device_id(value: str) -> str:
    if not _ID.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"'{value[:80]}' is not a device id (letters, digits, '.', '_', '-'; at most 64)"
        )
    return value


def _seconds(value: str) -> int:
    try:
        seconds = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value[:40]}' is not a whole number") from None
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"{seconds} is negative (0 means not answered)")
    return seconds


def parser(required: bool = True) -> argparse.ArgumentParser:
    """The command line; ``required=False`` leaves the required options out of the checks, so an
    unknown option can be named before argparse would complain about a missing one."""
    formatter = argparse.RawDescriptionHelpFormatter
    root = _Parser(
        prog=PROG,
        formatter_class=formatter,
        description=(
            "Act as a user's phone against a running simulator: activate the eSIM with an\n"
            "activation code, remove the line, switch it off and on, make a call. The simulated\n"
            "platform then reports the event to the line's workflow, as a real one would."
        ),
        epilog=(
            "examples:\n"
            "  pbxops mobile provision --tenant acme --user u3        # the line and its code\n"
            "  pbxsim phone activate --device md-1a2b3c4d5e          # scan its current code\n"
            "  pbxsim phone activate --code 'LPA:1$smdp.esim.pbx.example$ABCD-…'\n"
            "  pbxsim phone call --device md-1a2b3c4d5e --duration 42\n"
            "  pbxsim phone deactivate --device md-1a2b3c4d5e        # offline (red)\n\n"
            + _ENVIRONMENT
        ),
    )
    root.add_argument(
        "--url",
        default=os.environ.get("SIMULATOR_URL") or DEFAULT_URL,
        help="the running simulator (SIMULATOR_URL; default %(default)s)",
    )
    commands = root.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=summary,
            description=description,
            epilog=_ENVIRONMENT,
            formatter_class=formatter,
        )
        sub.add_argument(
            "--url",
            default=argparse.SUPPRESS,  # the group's --url (or its default) unless given here
            help="the running simulator (SIMULATOR_URL; default " + DEFAULT_URL + ")",
        )
        sub.add_argument("--json", action="store_true", help="print JSON for scripts")
        return sub

    activate = command(
        "activate",
        "add the eSIM to the phone with an activation code",
        "The user adds the eSIM on the phone with an activation code: accepted once, if it is\n"
        "the device's current code and has not expired. Give the code as scanned from the QR\n"
        "(LPA:1$<SM-DP+ address>$<code>) or typed (the code alone, as on an iPhone), or give\n"
        "--device to use that device's current code (read from the platform).",
    )
    which = activate.add_mutually_exclusive_group(required=required)
    which.add_argument("--code", help="the activation code, e.g. 'LPA:1$smdp.example$ABCD-…'")
    which.add_argument(
        "--device", "-d", type=_device_id, help="use this device's current activation code"
    )
    for name, summary in (
        ("remove", "delete the line from the phone (back to pending activation, grey)"),
        ("deactivate", "switch the line off on the phone (offline, red)"),
        ("reactivate", "switch the line back on (online, green)"),
    ):
        sub = command(name, summary, f"The user's phone: {summary}.")
        sub.add_argument("--device", "-d", required=required, type=_device_id, help="the device id")
    call = command(
        "call",
        "make or receive a call through the line",
        "The user makes (or gets) a call through the line: a call detail record of sub-client\n"
        "type Mobile_Network (only while the line is online). See it with `pbxops cdr`.",
    )
    call.add_argument("--device", "-d", required=required, type=_device_id, help="the device id")
    call.add_argument("--to", default="+390212345678", help="the number called (%(default)s)")
    call.add_argument(
        "--duration", type=_seconds, default=60, help="seconds; 0 = not answered (%(default)s)"
    )
    call.add_argument("--incoming", action="store_true", help="an incoming call instead")
    return root


class Simulator:
    """The simulator's HTTP API with the platform token."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=TIMEOUT_SECONDS,
        )

    def __enter__(self) -> "Simulator":
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def request(self, method: str, path: str, body: Any = None) -> Any:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.TransportError as err:
            raise PhoneError(
                f"cannot reach the simulator at {self.url} ({err or type(err).__name__}); is it "
                "running (pbxsim serve)? Set --url or SIMULATOR_URL"
            ) from None
        if response.status_code == 401:
            raise PhoneError(
                f"the simulator at {self.url} refused the token (check SIMULATOR_API_TOKEN)"
            )
        try:
            answer = response.json() if response.content else None
        except ValueError:
            answer = None
        answered = f"{self.url} answered {response.status_code} for {path}"
        if 400 <= response.status_code < 500:
            raise PhoneError(_detail(answer) or answered)
        if not response.is_success:
            raise PhoneError(f"{answered}; try again")
        if answer is None:
            raise PhoneError(f"{answered} without JSON; is that the simulator?")
        return answer


def _detail(answer: Any) -> str | None:
    """FastAPI's refusal: a sentence, or (422) a list of field errors."""
    detail = answer.get("detail") if isinstance(answer, dict) else None
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        first = detail[0]
        field = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        return f"{field}: {first.get('msg', 'invalid')}" if field else str(first.get("msg"))
    return None


def _device_path(device_id: str, action: str) -> str:
    return f"/phone/devices/{quote(device_id, safe='')}/{action}"


def _say_device(device: dict[str, Any], what: str) -> str:
    status = str(device["status"])
    colour = device.get("colour") or _COLOURS.get(status, "-")
    return (
        f"{what}: device {device['id']} is {status.replace('_', ' ')} ({colour}); the platform "
        "reports it to the line's workflow"
    )


def run(args: argparse.Namespace, token: str) -> None:
    with Simulator(args.url, token) as sim:
        if args.command == "activate":
            code = args.code
            if args.device is not None:
                path = f"/pbx/mobile/devices/{quote(args.device, safe='')}/activation-code"
                code = sim.request("GET", path)["activation_code"]
            result = sim.request("POST", "/phone/esim/activate", {"activation_code": code})
            text = _say_device(result, "activated")
        elif args.command == "call":
            body = {
                "to": args.to,
                "duration_seconds": args.duration,
                "direction": "incoming" if args.incoming else "outgoing",
            }
            result = sim.request("POST", _device_path(args.device, "calls"), body)
            text = (
                f"call record {result['id']}: {result['calling_number']} → "
                f"{result['called_number']}, {result['duration_seconds']}s, "
                f"{result['sub_client_type']}"
            )
        else:
            result = sim.request("POST", _device_path(args.device, args.command))
            text = _say_device(result, args.command.rstrip("e") + "ed")
    sys.stdout.write((json.dumps(result, indent=2) if args.json else text) + "\n")


def _parse(commands: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    # argparse checks required options before it reports unknown ones: `activate --bogus` would
    # say "--code or --device is required". A lenient pass names the unknown option first, with
    # the help of the command it was given to.
    known, unknown = parser(required=False).parse_known_args(argv)
    if unknown:
        command = commands if known.command is None else _subparser(commands, known.command)
        command.error(f"unrecognized arguments: {' '.join(unknown)}")
    return commands.parse_args(argv)


def _subparser(commands: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in commands._actions:
        if isinstance(action, argparse._SubParsersAction):
            sub: argparse.ArgumentParser = action.choices[name]
            return sub
    return commands


def main(argv: Sequence[str]) -> int:
    """``pbxsim phone …``: 0 when done, 1 for a refusal or failure, 2 for bad usage."""
    commands = parser()
    args = _parse(commands, list(argv))
    if args.command is None:  # a bare group shows what it offers, as `pbxops mobile` does
        commands.print_help()
        return USAGE_ERROR
    token = os.environ.get("SIMULATOR_API_TOKEN") or DEFAULT_TOKEN
    try:
        run(args, token)
    except PhoneError as err:
        _fail(str(err), 1)
    except httpx.InvalidURL as err:
        _fail(f"--url '{args.url}' is not an HTTP address ({err})", USAGE_ERROR)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except (KeyError, TypeError) as err:  # an answer without the fields a simulator sends
        _fail(f"unexpected answer from {args.url} (missing {err}); is that the simulator?", 1)
    except Exception as err:  # a bug: still one line, never a traceback
        _fail(f"unexpected {type(err).__name__}: {err}", 1)
    return 0
