"""``--wait``: follow a procedure live until it ends, then hand back its result."""

from pydantic import BaseModel

from pbxops.cli import render
from pbxops.cli.procedures import Procedures, Started
from pbxops.contracts.procedures import ProcedureStatus


def _plain(text: str) -> str:
    return text.replace("**", "").replace("`", "")


async def follow(
    procedures: Procedures, started: Started, result_type: type[BaseModel], as_json: bool
) -> BaseModel:
    """A spinner with the current step on a terminal; a line per new step or detail always."""
    shown: list[str] = []

    def show(status: ProcedureStatus) -> None:
        headline = status.step_detail.split("\n\n")[0]
        if not as_json and (not shown or shown[-1] != headline):
            render.out.print(f"  → {status.step}: {_plain(headline)}")
            shown.append(headline)
        spinner.update(render.status_line(status))

    with render.out.status("starting…") as spinner:
        return await procedures.watch(started, show, result_type)
