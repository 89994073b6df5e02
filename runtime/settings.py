"""Settings of the worker and the CLI, from ``PBXOPS_*`` environment variables (or a ``.env`` file).

Every default is what ``make up`` runs, so nothing needs configuring on a developer machine.
Durations accept ISO 8601 (``PT15M``) or seconds (``900``).
"""

from datetime import timedelta
from functools import lru_cache
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from contracts.service_transition import DEFAULT_HARD_CAP, DEFAULT_SLA


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PBXOPS_", env_file=".env", extra="ignore")

    # Temporal: the dev server by default; for Temporal Cloud set address, namespace and api_key
    # (or the mTLS pair).
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_api_key: SecretStr | None = None
    temporal_tls: bool = False
    temporal_tls_cert: str | None = None
    temporal_tls_key: str | None = None
    task_queue: str = "pbxops"
    # Where people open the Temporal Web UI; every ticket and CLI line links there.
    ui_url: str = "http://127.0.0.1:8233"

    # The provider's platform and helpdesk (the simulator locally).
    platform_url: str = "http://127.0.0.1:8080"
    platform_token: SecretStr = SecretStr("pbxops-dev-token")
    http_timeout_seconds: float = 10.0

    # Outgoing mail.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    mail_from: str = "pbxops <noreply@pbxops.example>"

    # The worker's receiver for platform callbacks: the address it binds, and the base URL the
    # platform must call (differs from the bind address behind NAT or in containers).
    callback_bind_host: str = "127.0.0.1"
    callback_port: int = 8099
    callback_base_url: str = "http://127.0.0.1:8099"

    metrics_bind: str = "127.0.0.1:9464"
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"

    # Procedure defaults the CLI puts in each workflow's input (so a running workflow never
    # changes its deadline when the settings change).
    deactivation_sla: timedelta = DEFAULT_SLA
    deactivation_hard_cap: timedelta = DEFAULT_HARD_CAP


@lru_cache
def get_settings() -> Settings:
    return Settings()
