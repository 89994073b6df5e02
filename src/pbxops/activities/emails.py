"""Every customer email, rendered in one place: Jinja2 templates + gettext catalogues + Babel.

- ``activities/templates/<name>.txt`` holds the subject (``{% block subject %}``) and the plain
  text; ``<name>.html`` the HTML part (autoescaped: a hostile name is shown, never run). Both
  extend a layout that adds the greeting and the signature.
- ``activities/locale/<language>/LC_MESSAGES/messages.po`` are the translations, read at run time
  (no compiled ``.mo`` files to build or commit). The English text is the msgid itself.
- Dates and times are formatted by Babel in the language and the tenant's time zone, e.g.
  "18:12 di venerdì 23 ottobre 2026".

Pure: rendering does no I/O but reading the (cached) templates and catalogues, so it is easy to
test; the mail activity decides whom to send what (``activities/mail.py``).
"""

import functools
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.core import Locale, UnknownLocaleError, get_global
from babel.dates import format_date, format_datetime, format_time, format_timedelta
from babel.languages import get_official_languages
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context

from pbxops.contracts.emails import FALLBACK_LANGUAGE, EmailTemplate

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
LOCALES = HERE / "locale"
DOMAIN = "messages"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    language: str = FALLBACK_LANGUAGE


def languages() -> tuple[str, ...]:
    """English plus every language with a catalogue: adding a ``.po`` file adds a language."""
    found = sorted(p.parent.parent.name for p in LOCALES.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (FALLBACK_LANGUAGE, *found)


def language_for(country: str | None = None, locale: str | None = None) -> str:
    """The language of a locale (``it-IT``) or, failing that, of a country (``IT`` → ``it``),
    if pbxops has a catalogue for it; English otherwise."""
    supported = languages()
    if locale:
        try:
            language = Locale.parse(locale.replace("-", "_")).language
        except (ValueError, UnknownLocaleError):
            language = ""
        if language in supported:
            return language
    if country:
        for language in get_official_languages(country.upper(), de_facto=True):
            if language in supported:
                return language
    return FALLBACK_LANGUAGE


def timezone_for(country: str | None) -> str:
    """A country's time zone when the platform records none (its first, e.g. Europe/Rome)."""
    zones = get_global("territory_zones").get((country or "").upper()) or []
    return zones[0] if zones else "UTC"


@functools.cache
def translations(language: str) -> NullTranslations:
    po = LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == FALLBACK_LANGUAGE or not po.exists():
        return NullTranslations()
    with po.open("rb") as source:
        catalog = read_po(source, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def _when(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _zone(ctx: Context) -> ZoneInfo:
    return ctx["_zone"]  # type: ignore[no-any-return]


@pass_context
def _time(ctx: Context, value: datetime | str) -> str:
    return format_time(_when(value), "short", tzinfo=_zone(ctx), locale=ctx["_language"])


@pass_context
def _date(ctx: Context, value: datetime | date | str) -> str:
    if isinstance(value, date) and not isinstance(value, datetime):
        return format_date(value, "full", locale=ctx["_language"])
    return format_date(_when(value).astimezone(_zone(ctx)), "full", locale=ctx["_language"])


@pass_context
def _datetime(ctx: Context, value: datetime | str) -> str:
    return format_datetime(_when(value), "medium", tzinfo=_zone(ctx), locale=ctx["_language"])


@pass_context
def _duration(ctx: Context, seconds: float) -> str:
    """How long something took, rounded to its largest unit ("3 minuti", "1 heure")."""
    return format_timedelta(
        timedelta(seconds=seconds), threshold=1, format="long", locale=ctx["_language"]
    )


@pass_context
def _exact_duration(ctx: Context, seconds: float) -> str:
    """A promised duration, never rounded: 60 min is "1 ora", 90 min "90 minuti"."""
    unit: _Unit = next(
        (name for name, size in _UNITS if seconds >= size and seconds % size == 0), "second"
    )
    return format_timedelta(
        timedelta(seconds=seconds),
        threshold=10**9,  # no unit but ``unit`` reaches the threshold: exactly that unit
        granularity=unit,
        format="long",
        locale=ctx["_language"],
    )


_Unit = Literal["day", "hour", "minute", "second"]
_UNITS: tuple[tuple[_Unit, int], ...] = (("day", 86400), ("hour", 3600), ("minute", 60))


@functools.cache
def environment(language: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,  # a missing value is a bug to see in the tests, not a blank
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.policies["ext.i18n.trimmed"] = True  # msgids without the templates' line breaks
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        time=_time,
        date=_date,
        datetime=_datetime,
        duration=_duration,
        exact_duration=_exact_duration,
    )
    return env


def one_line(text: str) -> str:
    """A subject is one line: no line break of a hostile name may become a header."""
    return " ".join(text.split())


def render(
    template: EmailTemplate | str,
    values: dict[str, Any],
    *,
    language: str = FALLBACK_LANGUAGE,
    timezone: str = "UTC",
) -> Rendered:
    if language not in languages():
        language = FALLBACK_LANGUAGE
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    env = environment(language)
    name = EmailTemplate(template).value
    context = {**values, "_language": language, "_zone": zone}
    text_template = env.get_template(f"{name}.txt")
    subject = "".join(text_template.blocks["subject"](text_template.new_context(context)))
    return Rendered(
        subject=one_line(subject),
        # Templates double their blank lines (trim_blocks eats one); one is kept.
        text=re.sub(r"\n{3,}", "\n\n", text_template.render(context)).strip() + "\n",
        html=env.get_template(f"{name}.html").render(context),
        language=language,
    )


def deletion_code(
    tenant_name: str,
    tenant_id: str,
    code: str,
    valid_minutes: int,
    *,
    expires_at: datetime | None = None,
    language: str = FALLBACK_LANGUAGE,
    timezone: str = "UTC",
) -> Rendered:
    """The confirmation code, large and centred; says what confirming does and that it is final."""
    return render(
        EmailTemplate.DELETION_CODE,
        {
            "tenant_name": tenant_name,
            "tenant_id": tenant_id,
            "code": code,
            "valid_minutes": valid_minutes,
            "expires_at": expires_at,
        },
        language=language,
        timezone=timezone,
    )
