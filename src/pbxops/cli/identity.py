"""Who is at the keyboard: every procedure records who started, confirmed, withdrew or changed it.

An explicit ``--by``/``--requested-by`` wins; otherwise ``PBXOPS_OPERATOR`` from the settings.
Starting a procedure without either records the local account (``user@host``), so the audit
never has a hole; confirming an irreversible step without either is refused.
"""

import getpass
import socket
from typing import Annotated

import typer

from pbxops.cli.errors import OperatorError
from pbxops.runtime.settings import Settings

ByOpt = Annotated[
    str | None,
    typer.Option(
        "--by",
        help="Who you are (email or name), recorded in the procedure's status, UI and result. "
        "Default: PBXOPS_OPERATOR.",
    ),
]


def who(settings: Settings, explicit: str | None = None) -> str:
    """The identity to record for a start or a change."""
    given = (explicit or settings.operator or "").strip()
    if given:
        return given
    try:
        return f"{getpass.getuser()}@{socket.gethostname()}"
    except (KeyError, OSError):  # no passwd entry in a container
        return "unknown operator"


def who_confirms(settings: Settings, explicit: str | None = None) -> str:
    """The identity behind an irreversible confirmation: required, never guessed."""
    given = (explicit or settings.operator or "").strip()
    if not given:
        raise OperatorError(
            "a confirmation needs your identity: give --by you@provider.example or set "
            "PBXOPS_OPERATOR"
        )
    return given
