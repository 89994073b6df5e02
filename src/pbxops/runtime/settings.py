"""Settings of the worker and the CLI, from ``PBXOPS_*`` environment variables (or a ``.env`` file).

Every default is what ``make up`` runs, so nothing needs configuring on a developer machine.
Durations accept ISO 8601 (``PT15M``) or seconds (``900``).
"""

import os
import re
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)
from temporalio.envconfig import ClientConfigProfile, ClientConfigTLS

from pbxops.contracts.mobile import DEFAULT_CODE_VALIDITY, DEFAULT_MAX_HISTORY_EVENTS
from pbxops.contracts.number_removal import DEFAULT_VERIFY_DEADLINE, DEFAULT_VERIFY_HARD_CAP
from pbxops.contracts.service_transition import DEFAULT_HARD_CAP, DEFAULT_SLA


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PBXOPS_", env_file=".env", extra="ignore")
    # The TLS of the SDK's profile (its certificates may be inline there), when PBXOPS_ sets none.
    _temporal_profile_tls: ClientConfigTLS | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _temporal_from_sdk_config(self) -> "Settings":
        """Fill what PBXOPS_TEMPORAL_* leaves unset from the SDK's environment configuration."""
        try:
            profile = ClientConfigProfile.load(profile=self.temporal_profile)
        except Exception as err:  # a malformed TOML file or an unknown profile: one line
            raise ValueError(
                f"TEMPORAL_* / temporal.toml: the client configuration does not load: {err}"
            ) from None
        given = self.model_fields_set
        if "temporal_address" not in given and profile.address:
            self.temporal_address = profile.address
        if "temporal_namespace" not in given and profile.namespace:
            self.temporal_namespace = profile.namespace
        if "temporal_api_key" not in given and profile.api_key:
            self.temporal_api_key = SecretStr(profile.api_key)
        tls_given = {"temporal_tls", "temporal_tls_cert", "temporal_tls_key"} & given
        if not tls_given and profile.tls is not None and not profile.tls.disabled:
            self._temporal_profile_tls = profile.tls
        return self

    @property
    def temporal_profile_tls(self) -> ClientConfigTLS | None:
        return self._temporal_profile_tls

    # Development mode (docs/security.md, "Production posture"): `make up`, the tests and the
    # compose dev stack set PBXOPS_DEV_MODE=1. Without it every process refuses a secret that is
    # a known default or too short (SECRET_RULES below), so production cannot forget one.
    dev_mode: bool = False

    # Temporal: read as the `temporal` CLI reads it (the SDK's environment configuration:
    # TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, and the profiles of
    # ~/.config/temporalio/temporal.toml or TEMPORAL_CONFIG_FILE, chosen by TEMPORAL_PROFILE or
    # PBXOPS_TEMPORAL_PROFILE). The PBXOPS_TEMPORAL_* names below are aliases that win when set;
    # with neither, the dev server. See docs/configuration.md.
    temporal_profile: str | None = None
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_api_key: SecretStr | None = None
    temporal_tls: bool = False
    temporal_tls_cert: str | None = None
    temporal_tls_key: str | None = None
    task_queue: str = "pbxops"
    # Workflows the worker keeps in memory between their tasks. Each costs memory (its sandboxed
    # modules; per-workflow figures in docs/benchmarks.md, section 3); one evicted from the cache
    # is rebuilt from its history on its next task. Most pbxops workflows sleep for hours to
    # months, so the cache only needs to hold the ones busy at the same time: a worker with
    # thousands of pending eSIM lines must not keep every one of them in memory.
    max_cached_workflows: int = Field(default=250, ge=2)
    # Where people open the Temporal Web UI; every ticket and CLI line links there.
    ui_url: str = "http://127.0.0.1:8233"
    # Who is running the CLI (PBXOPS_OPERATOR), recorded in every procedure started or changed
    # when no --requested-by/--by is given; a confirmation without any identity is refused.
    operator: str | None = None

    # The provider's platform and helpdesk (the simulator locally).
    platform_url: str = "http://127.0.0.1:8080"
    platform_token: SecretStr = SecretStr("pbxops-dev-token")
    http_timeout_seconds: float = 10.0
    # Connections to the platform, all kept alive; more concurrent requests wait for one. httpx
    # checks every pooled connection before each request, so a pool sized for a burst (its
    # default: 100) costs CPU on every request afterwards.
    http_max_connections: int = Field(default=20, ge=1)

    # Outgoing mail.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    mail_from: str = "pbxops <noreply@pbxops.example>"
    # Customer emails (docs/emails.md): a tenant's or customer account's language when it is not
    # its country's, as JSON, e.g. {"acme": "en"}; and the mail domains of the provider's own
    # staff, who get English whatever the tenant's language.
    email_languages: dict[str, str] = {}
    staff_email_domains: list[str] = ["provider.example"]

    # The worker's receiver for platform callbacks: the address it binds, and the base URL the
    # platform must call (differs from the bind address behind NAT or in containers).
    callback_bind_host: str = "127.0.0.1"
    callback_port: int = 8099
    callback_base_url: str = "http://127.0.0.1:8099"
    # Keys the per-job credential in every callback URL (runtime/callback_auth.py): the platform
    # token, which every operator's CLI holds, is not enough to forge a callback. Only the worker
    # needs it; set a long random value in production (changing it voids the URLs of jobs and
    # mobile lines in flight: their callbacks are refused and the safety polls take over).
    callback_secret: SecretStr = SecretStr("pbxops-dev-callback-secret-change-me")

    # Keys the HMAC (and the seal) of one-time codes: only the worker needs it. It never has a
    # default (a default would let anyone who reads history recover a code): the worker refuses
    # to start without it, and in dev mode makes a random one in the dev vault (worker.py).
    # Rotating it invalidates the codes of requests in flight (they must be started again).
    code_secret: SecretStr | None = None

    # Optional payload encryption (runtime/codec.py, docs/security.md): the base64 of 32 random
    # bytes (`python -m pbxops.runtime.codec keygen`); unset = payloads are plain JSON. Old keys,
    # still needed to read older histories, go comma-separated in payload_previous_keys.
    payload_key: SecretStr | None = None
    payload_previous_keys: SecretStr | None = None
    # The codec server the Temporal UI (and `temporal --codec-endpoint`) decodes through: where it
    # binds, the bearer token it demands, and the browser origins allowed (default: ui_url).
    codec_server_bind: str = "127.0.0.1:8888"
    codec_server_token: SecretStr | None = None
    codec_server_origins: str | None = None

    metrics_bind: str = "127.0.0.1:9464"
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"

    # Procedure defaults the CLI puts in each workflow's input (so a running workflow never
    # changes its deadline when the settings change).
    deactivation_sla: timedelta = DEFAULT_SLA
    deactivation_hard_cap: timedelta = DEFAULT_HARD_CAP
    # Mobile lines: an activation code's validity ("expires after 90 days"), and the history size
    # past which a line's workflow continues as new.
    mobile_code_validity: timedelta = DEFAULT_CODE_VALIDITY
    mobile_max_history_events: int = DEFAULT_MAX_HISTORY_EVENTS

    # --- number package removal: the operator's systems and their credentials ----------------
    # Base URLs default to platform_url (the simulator serves all three locally).
    csu_url: str | None = None  # the support view (CSU)
    device_portal_url: str | None = None  # the device portal (StreetSmart)
    ecommerce_url: str | None = None  # the e-commerce billing panel (2Checkout)
    device_portal_coid: str = "1"  # the company id operators log in with (not a secret)
    # Operator credentials: never a default in code. From PBXOPS_* variables or, better, one
    # secret file per setting (named like the variable: `pbxops_csu_password`) in
    # PBXOPS_SECRETS_DIR; `make up` reads the simulator's dev vault `.data/secrets`.
    csu_username: str | None = None
    csu_password: SecretStr | None = None
    device_portal_username: str | None = None
    device_portal_password: SecretStr | None = None
    ecommerce_username: str | None = None
    ecommerce_password: SecretStr | None = None
    number_removal_verify_deadline: timedelta = DEFAULT_VERIFY_DEADLINE
    number_removal_verify_hard_cap: timedelta = DEFAULT_VERIFY_HARD_CAP

    @field_validator("code_secret")
    @classmethod
    def _code_secret_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # Even in dev mode: the code vault cannot work with less (activities/codes.py).
        if value is not None and len(value.get_secret_value().encode()) < 16:
            raise ValueError("must be at least 16 characters; set a long random value")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment first, then ``.env``, then secret files (lowest priority)."""
        secrets = SecretsSettingsSource(settings_cls, secrets_dir=secrets_dir())
        return init_settings, env_settings, dotenv_settings, secrets


def secrets_dir() -> Path | None:
    """Where secret files are read: PBXOPS_SECRETS_DIR (e.g. /run/secrets), else the dev vault
    ``.data/secrets`` that the simulator fills; None when the directory does not exist."""
    configured = Path(os.environ.get("PBXOPS_SECRETS_DIR") or ".data/secrets").expanduser()
    return configured if configured.is_dir() else None


class SettingsInvalid(Exception):
    """A ``PBXOPS_*`` value that does not validate. The message is one line naming each variable
    and its rule, never the value: it may be a secret."""


def describe(err: ValidationError) -> str:
    problems = []
    for problem in err.errors():
        message = problem["msg"].removeprefix("Value error, ")
        if not problem["loc"]:  # the settings as a whole (the Temporal client configuration)
            problems.append(message)
            continue
        name = "PBXOPS_" + "_".join(str(part) for part in problem["loc"]).upper()
        problems.append(f"{name}: {message}")
    return "bad setting " + "; ".join(problems)


@dataclass(frozen=True)
class SecretRule:
    """A secret outside dev mode: never one of ``known_defaults``, never shorter than
    ``min_length`` characters. Unset is fine here (a process that needs it says so itself)."""

    setting: str
    known_defaults: frozenset[str]
    min_length: int


# Values that are published somewhere (code, docs, compose file, tests) or are placeholders.
_PLACEHOLDERS = frozenset({"changeme", "change-me", "secret", "password", "token", "test", "dev"})

# The production posture, one line per secret. A new secret setting adds its line here.
SECRET_RULES: tuple[SecretRule, ...] = (
    SecretRule("code_secret", _PLACEHOLDERS | {"pbxops-dev-code-secret-change-me"}, min_length=32),
    SecretRule("platform_token", _PLACEHOLDERS | {"pbxops-dev-token", "e2e-token"}, 24),
    SecretRule("payload_key", frozenset(), min_length=44),  # base64 of 32 bytes
    SecretRule("codec_server_token", _PLACEHOLDERS, min_length=24),
    SecretRule(
        "callback_secret",
        _PLACEHOLDERS | {"pbxops-dev-callback-secret-change-me", "e2e-callback-secret"},
        min_length=32,
    ),
)


def posture_problems(settings: Settings) -> list[str]:
    """What stops a process outside dev mode: one entry per secret, naming it, never its value."""
    if settings.dev_mode:
        return []
    problems = []
    for rule in SECRET_RULES:
        secret = getattr(settings, rule.setting)
        if secret is None:
            continue
        value = secret.get_secret_value()
        name = "PBXOPS_" + rule.setting.upper()
        if value in rule.known_defaults:
            problems.append(
                f"{name}: is a published default; set a long random value "
                "(or PBXOPS_DEV_MODE=1 on a development machine)"
            )
        elif len(value) < rule.min_length:
            problems.append(
                f"{name}: is shorter than {rule.min_length} characters; set a long random value "
                "(or PBXOPS_DEV_MODE=1 on a development machine)"
            )
    return problems


@lru_cache
def get_settings() -> Settings:
    """The settings, read once per process; SettingsInvalid when one does not validate or, outside
    dev mode, when a secret is a known default or too short."""
    try:
        settings = Settings()
    except ValidationError as err:
        raise SettingsInvalid(describe(err)) from None
    problems = posture_problems(settings)
    if problems:
        raise SettingsInvalid("bad setting " + "; ".join(problems))
    return settings


def settings_or_exit() -> Settings:
    """For a long-running process's entry point: a bad setting ends it with one line on stderr
    and exit code 1, before anything starts."""
    try:
        return get_settings()
    except SettingsInvalid as err:
        raise SystemExit(f"error: {err}") from None


def without_password(address: str) -> str:
    """A URL or address fit to print or log: any ``user:password@`` in it becomes ``***@``.

    ``https://ops:hunter2@pbx.example/x`` → ``https://***@pbx.example/x``; a bare
    ``user:token@host:7233`` too. Addresses without credentials come back unchanged."""
    return _USERINFO.sub(r"\g<prefix>***@", address)


# The userinfo of a URL (after an optional scheme, before the host): no "/", "?", "#" before "@".
_USERINFO = re.compile(r"^(?P<prefix>(?:[A-Za-z][A-Za-z0-9+.-]*://)?)[^/?#]*@")
