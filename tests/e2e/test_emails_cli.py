"""Customer emails end to end: the deletion code email in the tenant's language, from the real
mailbox, as a tenant's Admin reads it (real dev server, simulator, worker and CLI)."""

import re

import pytest

from tests.processes import wait_until
from tests.stack import Stack

pytestmark = pytest.mark.e2e

WEEKDAYS = {
    "it": "(lunedì|martedì|mercoledì|giovedì|venerdì|sabato|domenica)",
    "fr": "(lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)",
    "bg": "(понеделник|вторник|сряда|четвъртък|петък|събота|неделя)",
}


@pytest.mark.parametrize(
    ("country", "zone", "subject", "label", "validity"),
    [
        (
            "IT",
            "Europe/Rome",
            "Codice per confermare l'ELIMINAZIONE del servizio Cloud PBX di E2e-it-{} S.r.l.",
            "Codice di eliminazione:",
            r"Il codice è valido fino alle \d{2}:\d{2} di "
            + WEEKDAYS["it"]
            + r" \d{1,2} \w+ \d{4}",
        ),
        (
            "FR",
            "Europe/Paris",
            "Code de confirmation de la SUPPRESSION du service Cloud PBX de E2e-fr-{} S.r.l.",
            "Code de suppression :",
            r"Le code est valable jusqu'à \d{2}:\d{2} le " + WEEKDAYS["fr"] + r" \d{1,2} \w+ \d{4}",
        ),
        (
            "BG",
            "Europe/Sofia",
            "Код за потвърждаване на ИЗТРИВАНЕТО на услугата Cloud PBX на E2e-bg-{} S.r.l.",
            "Код за изтриване:",
            # (Babel puts a narrow no-break space before the year's abbreviation; Bulgarian hours
            # have no leading zero, "3:47", so this failed before 10:00 in Sofia)
            r"Кодът е валиден до \d{1,2}:\d{2}, " + WEEKDAYS["bg"] + r", \d{1,2} \w+ \d{4}\sг\.",
        ),
    ],
)
def test_the_deletion_code_email_is_in_the_tenant_language(
    stack: Stack, country, zone, subject, label, validity
):
    tenant = f"e2e-{country.lower()}-del"
    stack.put_tenant(tenant, country=country, timezone=zone)

    requested = stack.cli("delete", "--tenant", tenant, "--requested-by", "ops@provider.example")

    assert requested.code == 0, requested.stderr
    wait_until(lambda: stack.mails_to(f"anna@{tenant}.example"), 10, "the code email")
    [email] = stack.mails_to(f"anna@{tenant}.example")
    assert email["Subject"] == subject.format("del")
    code = re.search(re.escape(label) + r"\s+(\d{8})", email["Text"]).group(1)
    assert re.search(validity, email["Text"]), email["Text"]
    # The HTML part: the code large and centred, in its own paragraph.
    paragraph = re.search(rf"<p[^>]*>{code}</p>", email["HTML"]).group(0)
    assert "text-align: center" in paragraph and "font-size: 40px" in paragraph
    assert f'<html lang="{country.lower()}">' in email["HTML"]
    # The operator's CLI stays English.
    assert "the confirmation code went to 1 Admin of" in requested.stdout

    cancelled = stack.cli("delete", "cancel", "--tenant", tenant)
    assert cancelled.code == 0, cancelled.stderr
