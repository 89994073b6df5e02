"""The billable-action counting rules of bench/actions.py, on hand-made histories."""

from temporalio.api.common.v1 import Payload, SearchAttributes
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import (
    ActivityTaskStartedEventAttributes,
    HistoryEvent,
    MarkerRecordedEventAttributes,
    UpsertWorkflowSearchAttributesEventAttributes,
)

from bench.actions import count_actions
from bench.common import delta, percentile

E = EventType


def event(event_id: int, kind: int, **attributes) -> HistoryEvent:
    return HistoryEvent(event_id=event_id, event_type=kind, **attributes)


def marker(event_id: int, task: int) -> HistoryEvent:
    return event(
        event_id,
        E.EVENT_TYPE_MARKER_RECORDED,
        marker_recorded_event_attributes=MarkerRecordedEventAttributes(
            marker_name="core_local_activity", workflow_task_completed_event_id=task
        ),
    )


def upsert(event_id: int, *keys: str) -> HistoryEvent:
    fields = {key: Payload(data=b'"x"') for key in keys}
    return event(
        event_id,
        E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
        upsert_workflow_search_attributes_event_attributes=(
            UpsertWorkflowSearchAttributesEventAttributes(
                search_attributes=SearchAttributes(indexed_fields=fields)
            )
        ),
    )


def test_retries_count_as_attempts_and_local_activities_once_per_workflow_task():
    history = [
        event(1, E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED),
        event(5, E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),
        event(
            6,
            E.EVENT_TYPE_ACTIVITY_TASK_STARTED,
            activity_task_started_event_attributes=ActivityTaskStartedEventAttributes(
                scheduled_event_id=5, attempt=4
            ),
        ),
        event(8, E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),  # still scheduled: one attempt so far
        marker(10, task=9),
        marker(11, task=9),
        marker(15, task=14),
        event(16, E.EVENT_TYPE_TIMER_STARTED),
        event(17, E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED),
        event(18, E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED),
        event(19, E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED),
        upsert(20, "Step"),
        upsert(21, "TemporalChangeVersion"),  # the SDK's upsert for a patch: the server bills it
        event(22, E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW),
    ]

    counted = count_actions(history, rejected_updates=2)

    assert counted == {
        "workflow started": 2,
        "activity attempts": 5,
        "local activities (per WFT)": 2,
        "timers": 1,
        "signals": 1,
        "updates": 3,
        "child workflows": 2,
        "search-attribute upserts": 2,
    }


def test_server_counter_delta_and_percentiles():
    assert delta({"a": 5.0, "b": 2.0}, {"a": 3.0, "b": 2.0}) == {"a": 2}
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 50) == 3.0
    assert percentile([1.0, 2.0], 95) == 1.95
