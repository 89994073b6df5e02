"""The customer emails' templates and catalogues: every email in every language, pure rendering.

Nothing here talks to a process: the templates, the ``.po`` catalogues and Babel are the subject.
"""

import re
from email.header import decode_header, make_header
from html.parser import HTMLParser
from pathlib import Path

import pytest
from aiosmtplib.email import flatten_message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from pbxsim.mailbox.server import parse_message

from pbxops.activities import emails
from pbxops.activities.codes import CodeVault
from pbxops.activities.locales import Locales
from pbxops.activities.mail import MailActivities, SmtpSender, plan
from pbxops.contracts.emails import Audience, EmailTemplate, TemplatedEmail
from pbxops.contracts.mail import EmailMessage
from pbxops.runtime.settings import Settings

LANGUAGES = ("en", "it", "fr", "bg")
TRANSLATED = ("it", "fr", "bg")
HOSTILE = '<script>alert("x")</script> & "Co" \r\nBcc: victim@evil.example'
WHEN = "2026-10-23T16:12:00+00:00"  # 18:12 in Rome, a Friday

_ESIM = {
    "greeting_name": "Anna",
    "number": "+393331234567",
    "smdp_address": "smdp.example",
    "matching_id": "MATCH-1234",
    "lpa": "LPA:1$smdp.example$MATCH-1234",
    "expires_at": WHEN,
    "qr_png_base64": "iVBORw0KGgo=",
}
# One set of values per email: a new email without its sample fails the first test.
SAMPLES: dict[EmailTemplate, dict] = {
    EmailTemplate.DELETION_CODE: {
        "tenant_name": "Acme S.r.l.",
        "tenant_id": "acme",
        "code": "48213907",
        "valid_minutes": 60,
        "expires_at": WHEN,
    },
    EmailTemplate.DELETION_DONE: {
        "tenant_name": "Acme S.r.l.",
        "tenant_id": "acme",
        "ticket_id": "T-12",
    },
    EmailTemplate.TRANSITION_DONE: {
        "kind": "deactivation",
        "tenant_name": "Acme S.r.l.",
        "tenant_id": "acme",
        "took_seconds": 180,
        "ticket_id": "T-3",
    },
    EmailTemplate.INVITATION: {
        "greeting_name": "Giulia Rossi",
        "customer_name": "Acme S.r.l.",
        "url": "https://portal.example/invite/abc",
    },
    EmailTemplate.INVITATION_WITHDRAWN: {
        "customer_name": "Acme S.r.l.",
        "reason": "PBX connection failed: authentication failed",
    },
    EmailTemplate.TRIAL_EXPIRED: {
        "greeting_name": "Northwind",
        "customer_name": "Trial Co",
        "account_id": "trial-co",
        "product_type": "standard",
        "trial_days": 30,
        "ends_at": WHEN,
    },
    EmailTemplate.PROBLEM_REPORT: {
        "report_id": "PR-1",
        "customer_name": "Trial Co",
        "account_id": "trial-co",
        "application": "Mitel One",
        "created_at": WHEN,
        "reported_by": "ugo@trial.example",
        "description": "No audio on outbound calls.",
    },
    EmailTemplate.ESIM_ACTIVATION: _ESIM,
    EmailTemplate.ESIM_NEW_CODE: _ESIM,
    EmailTemplate.ESIM_LOST_STOLEN: _ESIM,
    EmailTemplate.ESIM_LINE_DELETED: {"greeting_name": "Anna", "number": "+393331234567"},
    EmailTemplate.NUMBER_REMOVAL_DONE: {
        "tenant_name": "Acme S.r.l.",
        "total": 4,
        "complete": False,
        "removed": [{"number": "+390280881001", "label": "Reception", "deleted_at": WHEN}],
        "pending": [{"number": "+390280881002", "label": None}],
        "verification_ticket": "T-7",
        "not_removed": [
            {
                "number": "+390280881003",
                "label": "Fax",
                "reason": "not-removed",
                "detail": "the number is being ported",
                "ticket": None,
                "deleted_at": None,
            },
            {
                "number": "+390280881004",
                "label": None,
                "reason": "manual-handling",
                "detail": "",
                "ticket": "T-8",
                "deleted_at": None,
            },
        ],
        "links": [{"url": "https://2co.example/acct/1/update", "licences": 2, "pending": 1}],
        "direct_only": False,
    },
}
NAME_KEYS = ("tenant_name", "customer_name", "greeting_name")


def catalogue(language: str):
    path = emails.LOCALES / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as source:
        return read_po(source, locale=language)


def template_msgids() -> set[str]:
    """Every message the templates ask for, extracted as ``make messages`` does."""
    root = Path(__file__).parents[2]
    templates = "src/pbxops/activities/templates/**"
    method_map = [(templates, "jinja2")]
    options = {templates: {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    found = set()
    for _, _, message, _, _ in extract_from_dir(root, method_map, options):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_email_has_a_sample_and_a_text_and_html_template():
    assert set(SAMPLES) == set(EmailTemplate)
    for template in EmailTemplate:
        assert (emails.TEMPLATES / f"{template.value}.txt").exists()
        assert (emails.TEMPLATES / f"{template.value}.html").exists()


def test_languages_are_english_plus_one_per_catalogue():
    assert set(emails.languages()) == set(LANGUAGES)


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_of_the_templates_is_translated(language):
    messages = {
        m.id[0] if isinstance(m.id, tuple) else m.id: m for m in catalogue(language) if m.id
    }
    assert set(messages) == template_msgids(), "run `make messages` and translate"
    for msgid, message in messages.items():
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(s.strip() for s in strings), f"{language}: untranslated {msgid!r}"
        assert not message.fuzzy, f"{language}: fuzzy {msgid!r}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_every_placeholder(language):
    # Babel's own checks: the same %(name)s placeholders in msgid and msgstr, plural forms.
    problems = [(m.id, errors) for m, errors in catalogue(language).check()]
    assert problems == []


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", list(EmailTemplate))
def test_each_email_renders_in_each_language(template, language):
    rendered = emails.render(template, SAMPLES[template], language=language, timezone="Europe/Rome")
    assert rendered.language == language
    assert rendered.subject and "\n" not in rendered.subject
    assert rendered.text.strip() and "<" not in rendered.text.replace("<days>", "")
    assert rendered.html.startswith("<!doctype html>") and f'lang="{language}"' in rendered.html
    if language != "en":
        # No English sentence left: every msgid of some length is gone from the output.
        english = emails.render(template, SAMPLES[template], timezone="Europe/Rome")
        assert rendered.subject != english.subject
        for msgid in template_msgids():
            if len(msgid) > 25 and "%(" not in msgid:
                assert msgid not in rendered.text and msgid not in rendered.html, msgid


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", list(EmailTemplate))
def test_hostile_names_are_escaped_in_html_and_never_break_the_subject(template, language):
    values = {
        **SAMPLES[template],
        **{key: HOSTILE for key in NAME_KEYS if key in SAMPLES[template]},
    }
    rendered = emails.render(template, values, language=language)
    assert "<script>" not in rendered.html
    if any(key in SAMPLES[template] for key in NAME_KEYS):
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#34;Co&#34;" in rendered.html
    assert "\r" not in rendered.subject and "\n" not in rendered.subject


class _Styles(HTMLParser):
    """The inline style of the element whose text is ``needle``."""

    def __init__(self, needle: str) -> None:
        super().__init__()
        self.needle, self.stack, self.found = needle, [], None

    def handle_starttag(self, tag, attrs):
        self.stack.append(dict(attrs).get("style") or "")

    def handle_endtag(self, tag):
        self.stack.pop()

    def handle_data(self, data):
        if data.strip() == self.needle:
            self.found = self.stack[-1]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_deletion_code_is_large_and_centred_in_every_language(language):
    code = SAMPLES[EmailTemplate.DELETION_CODE]["code"]
    rendered = emails.render(
        EmailTemplate.DELETION_CODE, SAMPLES[EmailTemplate.DELETION_CODE], language=language
    )
    parser = _Styles(code)
    parser.feed(rendered.html)
    assert parser.found is not None, "the code is not an element of its own"
    style = parser.found.replace(" ", "")
    assert "text-align:center" in style
    assert int(re.search(r"font-size:(\d+)px", style).group(1)) >= 32
    assert code in rendered.text


def test_the_code_expiry_reads_as_the_provider_writes_it():
    rendered = emails.render(
        EmailTemplate.DELETION_CODE,
        SAMPLES[EmailTemplate.DELETION_CODE],
        language="it",
        timezone="Europe/Rome",
    )
    assert "valido fino alle 18:12 di venerdì 23 ottobre 2026 (1 ora" in rendered.text
    # The provider's own words: the state the portal shows, and its warning.
    assert "lo stato In eliminazione" in rendered.text
    assert "Una volta confermata, l'operazione non può essere annullata." in rendered.text
    assert rendered.subject == (
        "Codice per confermare l'ELIMINAZIONE del servizio Cloud PBX di Acme S.r.l."
    )
    french = emails.render(
        EmailTemplate.DELETION_CODE, SAMPLES[EmailTemplate.DELETION_CODE], language="fr"
    )
    assert "jusqu'à 16:12 le vendredi 23 octobre 2026" in french.text  # UTC: no zone given


def test_deactivation_result_uses_the_provider_state_names():
    values = SAMPLES[EmailTemplate.TRANSITION_DONE]
    italian = emails.render(EmailTemplate.TRANSITION_DONE, values, language="it")
    assert "nello stato Disattivo" in italian.text and "3 minuti" in italian.text
    assert italian.subject == "Servizio Cloud PBX disattivato: Acme S.r.l."
    one = emails.render(
        EmailTemplate.TRANSITION_DONE, {**values, "took_seconds": 60}, language="en"
    )
    assert "It took 1 minute." in one.text  # never "1 minutes"


def test_plurals_follow_the_language():
    values = SAMPLES[EmailTemplate.TRIAL_EXPIRED]
    assert "di 30 giorni" in emails.render(EmailTemplate.TRIAL_EXPIRED, values, language="it").text
    one_day = {**values, "trial_days": 1}
    assert "от 1 ден" in emails.render(EmailTemplate.TRIAL_EXPIRED, one_day, language="bg").text


@pytest.mark.parametrize(
    ("country", "locale", "language"),
    [
        ("IT", None, "it"),
        ("FR", None, "fr"),
        ("BG", None, "bg"),
        ("it", None, "it"),
        ("GB", None, "en"),
        ("DE", None, "en"),  # no catalogue: the fallback
        (None, "fr-FR", "fr"),
        ("IT", "bg-BG", "bg"),  # the recorded locale wins over the country
        (None, None, "en"),
    ],
)
def test_language_follows_the_locale_or_the_country(country, locale, language):
    assert emails.language_for(country, locale) == language


async def test_a_tenant_override_and_the_staff_rule():
    locales = Locales(
        None, overrides={"acme": "fr", "odd": "xx"}, staff_domains=["provider.example"]
    )
    assert (await locales.resolve(Audience(tenant_id="acme", country="IT"))).language == "fr"
    # An override naming a language without a catalogue is ignored.
    assert (await locales.resolve(Audience(tenant_id="odd", country="IT"))).language == "it"
    place = await locales.resolve(Audience(country="BG"))
    assert place.timezone == "Europe/Sofia"

    email = TemplatedEmail(
        template=EmailTemplate.DELETION_DONE,
        to=["anna@acme.example", "boss@provider.example"],
        staff_to=["ops@provider.example", "anna@acme.example"],
        audience=Audience(country="IT"),
    )
    groups = plan(email, await locales.resolve(email.audience), locales, "k")
    assert [(to, where.language, key) for to, where, key in groups] == [
        (["anna@acme.example"], "it", "k"),
        (["boss@provider.example", "ops@provider.example"], "en", "k/staff"),
    ]
    # A tenant that reads English: one message for everyone, under the step's own key.
    [(to, where, key)] = plan(email, await locales.resolve(Audience(country="GB")), locales, "k")
    assert (where.language, key) == ("en", "k")
    assert to == ["anna@acme.example", "boss@provider.example", "ops@provider.example"]


def test_the_override_and_staff_domains_are_plain_json_settings(monkeypatch):
    monkeypatch.setenv("PBXOPS_EMAIL_LANGUAGES", '{"acme": "en", "umbrella": "bg"}')
    monkeypatch.setenv("PBXOPS_STAFF_EMAIL_DOMAINS", '["ops.example", "provider.example"]')
    settings = Settings(_env_file=None)
    assert settings.email_languages == {"acme": "en", "umbrella": "bg"}
    assert settings.staff_email_domains == ["ops.example", "provider.example"]


@pytest.mark.parametrize(
    "subject",
    [
        "Code to confirm the DELETION of the Cloud PBX service of Тест ООД",
        "Votre ligne mobile professionnelle +33612345678 sur un nouveau téléphone (perdu ou volé)",
        "Код за потвърждаване на ИЗТРИВАНЕТО на услугата Cloud PBX на Тест ООД с дълго име ЕООД",
        "Codice per confermare l'ELIMINAZIONE del servizio Cloud PBX di Una Società S.r.l.",
    ],
)
def test_a_long_localised_subject_arrives_with_every_space(subject):
    # Python's folder loses or doubles the spaces between RFC 2047 words ("Тест ООД" arrived as
    # "ТестООД"): the message is built with a policy that keeps them (activities/mime.py).
    mail = MailActivities(
        SmtpSender("127.0.0.1", 1),
        "pbxops <noreply@x.it>",
        CodeVault(b"template-tests-secret-0123456789"),
    )
    email = EmailMessage(to=["anna@acme.example"], subject=subject, text="t", html="<p>t</p>")
    raw = flatten_message(mail._build(email, "<id@pbxops>"))  # as aiosmtplib sends it

    assert parse_message(raw).subject == subject
    # ... and as any RFC 2047 decoder reads it
    folded = re.search(rb"\r\nSubject:(.*?)\r\n(?=\S)", raw, re.DOTALL).group(1)
    assert str(make_header(decode_header(folded.decode().replace("\r\n", "")))).strip() == subject
    assert all(len(line) <= 78 for line in raw.split(b"\r\n\r\n")[0].split(b"\r\n"))
