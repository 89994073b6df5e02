"""Bad input as one sentence: every pydantic problem with its field, in one place for every
command (a customer file's nested keys, flags named as options)."""

import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from pbxops.cli.errors import OperatorError

M = TypeVar("M", bound=BaseModel)

# --- turning pydantic's errors into one line ---------------------------------------------------


# A key of the customer file that can be named in an error; any other key (a line of a file that
# was never a customer file: "root:$6$...") is not repeated.
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")


def _field(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, str) and not _KEY.fullmatch(part):
            part = "(a key that is not a field name)"
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "input"


def _message(error: Any) -> str:
    if error["type"] == "missing":
        return "is required"
    if error["type"] == "extra_forbidden":
        return "unknown field (check its spelling)"
    return str(error["msg"])


def _problem(error: Any) -> str:
    field, message = _field(error["loc"]), _message(error)
    # "name must not contain ..." (contracts/text.py) names its field: the path takes its place.
    label = (error.get("ctx") or {}).get("field")
    if isinstance(label, str) and message.startswith(f"{label} "):
        return f"{field} {message.removeprefix(label + ' ')}"
    return f"{field}: {message}"


def validation_errors(err: ValidationError) -> str:
    """Every problem, each with its field, on one line."""
    problems = [_problem(e) for e in err.errors()]
    if len(problems) == 1:
        return problems[0]
    return f"{len(problems)} problems: " + "; ".join(problems)


def checked(model: type[M], options: dict[str, str] | None = None, **fields: Any) -> M:
    """Flags into a contract, or every problem on one line with the fields named as options
    (``product_type`` → ``product-type``; ``options`` renames others, e.g. to ``--by``)."""
    try:
        return model(**fields)
    except ValidationError as err:
        message = validation_errors(err)
        for field, option in (options or {}).items():
            message = message.replace(field, option)
        raise OperatorError(message.replace("_", "-")) from err
