"""Following a procedure without polling it: long-poll its history, ask for its status only when
the history shows that it moved.

The server holds a ``GetWorkflowExecutionHistory`` call with ``wait_new_event`` open until the
workflow appends an event, so the CLI learns of a change the moment it happens, costs nothing
while a procedure sleeps for hours, and sends a status query (a billable action on Temporal
Cloud, and a round trip to the worker) only when there is something new to read.
"""

from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, TypeVar

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHandle

T = TypeVar("T")

CLOSED = frozenset(
    {
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
    }
)


def task_completed(event: HistoryEvent) -> bool:
    """The workflow ran: anything it shows (step, detail, deadline) may have changed."""
    return event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED


def search_attributes_upserted(event: HistoryEvent) -> bool:
    """The workflow moved to a new step the UI's list shows (Step, SlaDeadline, TicketId …)."""
    return event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES


async def statuses(
    handle: WorkflowHandle[Any, Any],
    read: Callable[[], Awaitable[T]],
    wanted: Callable[[HistoryEvent], bool],
) -> AsyncGenerator[T, None]:
    """The status now, then again after each ``wanted`` event and after the run's close (the last).

    The history's length is taken before the first read, so no change can slip between the read
    and the long poll: an event already reflected in a status is at worst read once more.
    """
    description = await handle.describe()
    seen = description.raw_description.workflow_execution_info.history_length
    yield await read()
    if description.close_time is not None:
        return  # closed: nothing will move any more
    async for event in handle.fetch_history_events(wait_new_event=True, skip_archival=True):
        if event.event_id <= seen:
            continue
        if event.event_type in CLOSED:
            yield await read()
            return
        if wanted(event):
            yield await read()
