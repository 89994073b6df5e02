"""Settings of the simulator, from ``SIMULATOR_*`` environment variables or CLI flags.

Every default is what a developer machine runs (``python -m pbxsim``), so nothing needs
configuring locally.
"""

from pathlib import Path
from typing import Literal

from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def database_url(value: str) -> str:
    """A SQLAlchemy URL, or a plain file path turned into a SQLite URL.

    A path is made absolute so the process's working directory cannot silently point a
    restarted simulator at a different (empty) database.
    """
    if "://" in value:
        return value
    if value in ("", ":memory:"):
        return "sqlite://"
    return f"sqlite:///{Path(value).expanduser().resolve()}"


class SimulatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIMULATOR_", extra="ignore")

    db: str = "sqlite:///.data/simulator.db"
    host: str = "127.0.0.1"
    http_port: int = 8080
    smtp_port: int = 1025
    # A secret so it never shows in a repr, a traceback or a log line.
    api_token: SecretStr = SecretStr("pbxops-dev-token")
    # Guards what only the simulator's operator may do (tests, demos, chaos): `/admin/*`, the
    # mailbox API `/api/v1/*` (it lists every code sent) and the HTML inbox. Distinct from the
    # platform token, which every pbxops operator holds. Sent as `X-Admin-Token: <token>`.
    admin_token: SecretStr = SecretStr("pbxops-dev-simulator-admin")
    # Dev mode (`make up`, `--dev`): the HTML inbox opens without the admin token.
    dev_mode: bool = False
    # How often the job runner looks for due jobs and pending callbacks.
    job_tick_seconds: float = 0.2
    # Callback delivery: attempts in all, and the first back-off (doubled after each failure).
    callback_attempts: int = 5
    callback_backoff_seconds: float = 0.5
    callback_timeout_seconds: float = 5.0
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"

    @field_validator("db")
    @classmethod
    def _db_url(cls, value: str) -> str:
        return database_url(value)

    @model_validator(mode="after")
    def _distinct_tokens(self) -> "SimulatorSettings":
        if self.admin_token.get_secret_value() == self.api_token.get_secret_value():
            raise ValueError("SIMULATOR_ADMIN_TOKEN must differ from SIMULATOR_API_TOKEN")
        if not self.admin_token.get_secret_value():
            raise ValueError("SIMULATOR_ADMIN_TOKEN must not be empty")
        return self

    @property
    def token(self) -> str:
        return self.api_token.get_secret_value()

    @property
    def admin(self) -> str:
        return self.admin_token.get_secret_value()
