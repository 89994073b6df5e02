"""Whose language and time zone an email is in: the tenant's, from what the platform records.

Order: the per-tenant override (``PBXOPS_EMAIL_LANGUAGES``), then the locale or country the
workflow passed (provisioning records both), then the platform's record of the tenant (its
country and time zone) or the customer account (its country and locale); English and UTC when
nothing is known. Addresses in the provider's own domains (``PBXOPS_STAFF_EMAIL_DOMAINS``) are
staff: they read English.
"""

from dataclasses import dataclass
from urllib.parse import quote

import httpx

from pbxops.activities.emails import language_for, languages, timezone_for
from pbxops.activities.http import PlatformRejected, request
from pbxops.contracts.emails import FALLBACK_LANGUAGE, Audience


@dataclass(frozen=True)
class Place:
    language: str
    timezone: str


STAFF = Place(FALLBACK_LANGUAGE, "UTC")


class Locales:
    def __init__(
        self,
        client: httpx.AsyncClient | None,
        overrides: dict[str, str] | None = None,
        staff_domains: list[str] | None = None,
    ) -> None:
        self._client = client
        # An override naming a language without a catalogue falls back to the country's.
        known = languages()
        self._overrides = {t: lang for t, lang in (overrides or {}).items() if lang in known}
        self._staff = {domain.lower().lstrip("@") for domain in staff_domains or []}

    def is_staff(self, address: str) -> bool:
        return address.rpartition("@")[2].lower() in self._staff

    async def resolve(self, audience: Audience) -> Place:
        country, locale, zone = audience.country, audience.locale, audience.timezone
        if not country and not locale:
            country, locale, zone = await self._look_up(audience, zone)
        override = self._overrides.get(audience.tenant_id or audience.account_id or "")
        language = override or language_for(country, locale)
        return Place(language, zone or timezone_for(country))

    async def _look_up(
        self, audience: Audience, zone: str | None
    ) -> tuple[str | None, str | None, str | None]:
        if self._client is None:
            return None, None, zone
        if audience.tenant_id:
            path = f"/pbx/tenants/{quote(audience.tenant_id, safe='')}"
        elif audience.account_id:
            path = f"/pbx/customers/{quote(audience.account_id, safe='')}"
        else:
            return None, None, zone
        try:
            body = await request(self._client, "GET", path)
        except PlatformRejected:
            # Gone (e.g. erased) or unknown: the email still goes out, in English.
            return None, None, zone
        return body.get("country"), body.get("locale"), zone or body.get("timezone")
