"""Every table the CLI prints fits an 80-column terminal, and its key values stay whole on one
line (issue 19.9): rendered with realistic long values, at width 80."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from rich.console import Console

from pbxops.cli import cdr, customer, mobile, number_removal, render
from pbxops.cli.procedures import Listed
from pbxops.contracts.deletion import DeletionStatus, Phase
from pbxops.contracts.mobile import DeviceStatus, MobileLineStatus
from pbxops.contracts.number_removal import NumberOutcome, NumberState
from pbxops.contracts.procedures import AuditEntry, Procedure

WIDTH = 80
WHEN = datetime(2026, 12, 3, 10, 15, tzinfo=UTC)
UI = "http://127.0.0.1:8233/namespaces/default/workflows"


@pytest.fixture
def screen(monkeypatch) -> StringIO:
    """An 80-column terminal in place of the CLI's console."""
    buffer = StringIO()
    console = Console(file=buffer, width=WIDTH, color_system=None, highlight=False, soft_wrap=True)
    monkeypatch.setattr(render, "out", console)
    return buffer


def lines_of(screen: StringIO) -> list[str]:
    return screen.getvalue().splitlines()


def fits(lines: list[str]) -> None:
    """No line is wider than the terminal, except a link: printed whole so it stays clickable."""
    too_wide = [line for line in lines if len(line) > WIDTH and "http" not in line]
    assert too_wide == []


def whole(lines: list[str], *values: str) -> None:
    for value in values:
        assert any(value in line for line in lines), f"{value!r} is broken across lines"


def listed(workflow_id: str, tenant: str, step: str, status: str, ticket: str | None) -> Listed:
    return Listed(
        workflow_id=workflow_id,
        run_id="0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        procedure="x",
        tenant_id=tenant,
        step=step,
        sla_deadline=WHEN,
        escalated=ticket is not None,
        ticket_id=ticket,
        status=status,
        started_at=WHEN,
        url=f"{UI}/{workflow_id.replace('/', '%2F')}/0193a1b2/history",
    )


def test_the_procedures_table_fits_80_columns(screen):
    render.procedures_table(
        [
            listed("pbx-deactivation/acme", "acme", "waiting-for-platform", "running", "T-1042"),
            listed(
                "customer-provisioning/umbrella-corporation-italia",
                "umbrella-corporation-italia",
                "synchronising-users",
                "running",
                None,
            ),
            listed(
                "mobile-line/md-3f2a9c1e-77aa-4d2b-9a57-0c1d2e3f4a5b",
                "acme",
                "pending-activation",
                "running",
                None,
            ),
            listed("pbx-deletion/globex", "globex", "purging", "completed", "T-1043"),
        ],
        "Running procedures",
    )
    lines = lines_of(screen)
    fits(lines)
    # The step, deadline and ticket of every row, and a short workflow id, on one line each.
    whole(lines, "pbx-deactivation/acme", "waiting-for-platform", "synchronising-users")
    whole(lines, "pending-activation", "completed", "03 Dec 10:15", "T-1042", "T-1043")
    # Each procedure's link is printed whole on its own line.
    whole(lines, f"{UI}/mobile-line%2Fmd-3f2a9c1e-77aa-4d2b-9a57-0c1d2e3f4a5b/0193a1b2/history")


def test_the_tickets_table_fits_80_columns(screen):
    render.tickets_table(
        [
            {
                "id": "T-1042",
                "status": "resolved",
                "tenant_id": "umbrella-corporation-italia",
                "subject": "Service deactivation of umbrella-corporation-italia not finished "
                "after 15 minutes",
                "created_at": "2026-12-03T10:15:00",  # the helpdesk's naive UTC
                "workflow_url": f"{UI}/pbx-deactivation%2Fumbrella/0193a1b2/history",
            }
        ]
    )
    lines = lines_of(screen)
    fits(lines)
    whole(lines, "T-1042", "resolved", "03 Dec 10:15", "Service deactivation of")


def test_the_status_panel_of_a_deletion_fits_and_shows_the_wrong_codes(screen):
    status = DeletionStatus(
        procedure=Procedure.DELETION,
        workflow_id="pbx-deletion/umbrella-corporation-italia",
        tenant_id="umbrella-corporation-italia",
        step="awaiting-confirmation",
        step_detail="Code emailed to 2 Admins; valid until 2026-12-03 11:15 UTC. Confirm with "
        "`pbxops delete confirm --tenant umbrella-corporation-italia --code <8 digits>`.",
        started_at=WHEN,
        phase=Phase.AWAITING_CODE,
        code_expires_at=WHEN,
        wrong_codes=2,
        max_wrong_codes=5,
    )
    render.status_panel(status, f"{UI}/pbx-deletion%2Fumbrella/0193a1b2/history")
    lines = lines_of(screen)
    fits(lines)
    whole(lines, "awaiting-confirmation", "2 (3 attempts left)", "2026-12-03 10:15:00 UTC")


def test_the_status_panel_shows_who_started_and_who_changed_a_line(screen):
    status = MobileLineStatus(
        procedure=Procedure.MOBILE_LINE,
        workflow_id="mobile-line/md-0a1b2c3d4e",
        tenant_id="acme",
        step="pending-activation",
        started_at=WHEN,
        started_by="giulia.rossi@provider.example",
        audit=[
            AuditEntry(
                action="reported the phone lost or stolen", by="marco@provider.example", at=WHEN
            )
        ],
        device_id="md-0a1b2c3d4e",
        user_id="u1",
        device_status=DeviceStatus.PENDING_ACTIVATION,
        colour="grey",
    )
    render.status_panel(status, f"{UI}/mobile-line%2Fmd-0a1b2c3d4e/0193a1b2/history")
    lines = lines_of(screen)
    fits(lines)
    assert "started by    giulia.rossi@provider.example" in [line.rstrip() for line in lines]
    whole(lines, "marco@provider.example")
    shown = " ".join(" ".join(lines).split())  # the change may wrap onto a second line
    assert (
        "changed by marco@provider.example reported the phone lost or stolen "
        "(2026-12-03 10:15:00 UTC)"
    ) in shown


def test_the_number_tables_fit_80_columns(screen):
    found = [
        number_removal.Found(
            "+390280881001",
            "acme",
            "Acme Industries International S.p.A.",
            "Reception desk, ground floor, building B",
            "Ecom2CheckoutMonthlyUnlimitedInternational",
        ),
        number_removal.Found("+390280881002", "acme", "Acme", "Fax", "LegacyBundle0909"),
    ]
    number_removal._plan(found, "acme", as_json=False)
    number_removal.numbers_table(
        [
            NumberState(
                number="+390280881001",
                outcome=NumberOutcome.NOT_VERIFIED,
                label="Reception desk, ground floor, building B",
                detail="device dv-77 deleted at 2026-12-03 10:15 UTC, but CSU shows no Deleted "
                "Datetime yet: a support ticket follows it up",
            )
        ]
    )
    lines = lines_of(screen)
    fits(lines)
    whole(lines, "+39 02 8088 1001", "not-verified", "e-commerce")


def test_the_customer_and_mobile_tables_fit_80_columns(screen):
    customer.customers_table(
        [
            {
                "id": "umbrella-corporation-italia-1",
                "reseller": "telecom-partners-north",
                "name": "Umbrella Corporation Italia S.r.l.",
                "internal_demo": False,
                "product_type": "cloud-pbx-enterprise",
                "state": "active",
                "users": 2000,
                "connection": {"state": "monitoring"},
                "trial": True,
                "trial_days": 30,
                "trial_ends_at": "2026-12-31T00:00:00Z",
                "trial_expired": False,
            }
        ]
    )
    mobile.lines_table(
        "acme",
        {"licences_used": 1, "licences_total": 10},
        [
            {
                "id": "md-3f2a9c1e-77aa-4d2b-9a57-0c1d2e3f4a5b",
                "user_id": "giulia.rossi",
                "number": "+393401234567",
                "colour": "green",
                "status": "pending_activation",
                "latest_code": {"state": "issued", "expires_at": "2027-03-03T10:15:00Z"},
                "last_event": "code issued by the operator",
            }
        ],
    )
    cdr.cdr_table(
        [
            {
                "start_time": "2026-12-03T10:15:42Z",
                "user_id": "giulia.rossi",
                "calling_number": "+393401234567",
                "called_number": "+390280881001",
                "duration_seconds": 3725,
                "sub_client_type": "Mobile_Network",
            }
        ]
    )
    lines = lines_of(screen)
    fits(lines)
    whole(lines, "2000", "monitoring", "active", "+393401234567", "+390280881001", "2027-03-03")
    whole(lines, "03 Dec 10:15:42", "3725", "1 of 10 licences")
