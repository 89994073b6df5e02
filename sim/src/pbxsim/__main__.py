"""Command line: ``python -m pbxsim [serve] [...]``, ``python -m pbxsim seed`` and
``pbxsim phone …`` (act as a user's phone against a running simulator: phone_cli.py).

python -m pbxsim                       # serve on :8080 (HTTP) and :1025 (SMTP)
python -m pbxsim serve --seed --db .data/demo.db
python -m pbxsim seed --db .data/demo.db
pbxsim phone activate --device md-1a2b3c4d5e
"""

import argparse
import contextlib
import signal
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import structlog
import uvicorn
from pydantic import ValidationError

from pbxsim import phone_cli
from pbxsim.app import create_app
from pbxsim.db import Database
from pbxsim.logs import configure_logging
from pbxsim.seed import seed
from pbxsim.settings import SimulatorSettings

log = structlog.get_logger("simulator")

STARTUP_FAILED = 3  # uvicorn's own exit code for a failed startup


class _Server(uvicorn.Server):
    """uvicorn that stops gracefully on SIGINT/SIGTERM and then exits 0.

    Stock uvicorn re-raises the signal after shutting down, so a clean stop would look like a
    crash (exit -15, or a KeyboardInterrupt traceback) to supervisors and test fixtures.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pbxsim",
        description="The PBX platform, helpdesk and mailbox pbxops talks to.",
    )
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="run the HTTP and SMTP servers (the default)")
    serve.add_argument("--db", help="SQLAlchemy URL or SQLite file path (SIMULATOR_DB)")
    serve.add_argument("--host", help="address to bind (SIMULATOR_HOST)")
    serve.add_argument("--http-port", type=int, help="HTTP port (SIMULATOR_HTTP_PORT)")
    serve.add_argument("--smtp-port", type=int, help="SMTP port (SIMULATOR_SMTP_PORT)")
    serve.add_argument("--seed", action="store_true", help="upsert the demo tenants first")
    serve.add_argument(
        "--dev",
        action="store_true",
        help="dev mode: the HTML inbox opens without the admin token (SIMULATOR_DEV_MODE)",
    )
    seed_cmd = commands.add_parser("seed", help="upsert the demo tenants and exit")
    seed_cmd.add_argument("--db", help="SQLAlchemy URL or SQLite file path (SIMULATOR_DB)")
    # Listed here for --help only: main() hands `phone …` to phone_cli before parsing.
    commands.add_parser(
        "phone",
        help="act as a user's phone against a running simulator: activate, remove, deactivate, "
        "reactivate, call (see `pbxsim phone --help`)",
        add_help=False,
    )
    return parser


def _with_default_command(argv: Sequence[str]) -> list[str]:
    """``serve`` is the default: ``python -m pbxsim --db x`` means ``serve --db x``."""
    args = list(argv)
    if not args or (args[0].startswith("-") and args[0] not in ("-h", "--help")):
        return ["serve", *args]
    return args


def _settings(args: argparse.Namespace) -> SimulatorSettings:
    # Only flags actually given override the environment.
    names = ("db", "host", "http_port", "smtp_port")
    overrides: dict[str, Any] = {
        name: getattr(args, name) for name in names if getattr(args, name, None) is not None
    }
    if getattr(args, "dev", False):
        overrides["dev_mode"] = True
    try:
        return SimulatorSettings(**overrides)
    except ValidationError as err:
        # One line naming each variable and its rule, as the worker does for PBXOPS_*.
        problems = (
            f"SIMULATOR_{'_'.join(map(str, problem['loc'])).upper()}: {problem['msg']}"
            if problem["loc"]
            else problem["msg"].removeprefix("Value error, ")  # it names its variables
            for problem in err.errors()
        )
        raise SystemExit(f"error: bad setting {'; '.join(problems)}") from None


def serve(settings: SimulatorSettings, *, with_seed: bool = False) -> int:
    app = create_app(settings)
    if with_seed:
        log.info("seeded demo tenants", tenants=seed(app.state.db))
    server = _Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.http_port,
            log_config=None,  # our structlog setup renders uvicorn's records too
            timeout_graceful_shutdown=5,
        )
    )
    server.run()
    return 0 if server.started else STARTUP_FAILED


def run_seed(settings: SimulatorSettings) -> int:
    db = Database(settings.db)
    db.create_schema()
    try:
        log.info("seeded demo tenants", tenants=seed(db), db=db.safe_url)
    finally:
        db.dispose()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["phone"]:  # a client of a running simulator: no settings, no logging set up
        return phone_cli.main(argv[1:])
    args = _parser().parse_args(_with_default_command(argv))
    settings = _settings(args)
    configure_logging(settings.log_format, settings.log_level)
    if args.command == "seed":
        return run_seed(settings)
    return serve(settings, with_seed=args.seed)


if __name__ == "__main__":
    sys.exit(main())
