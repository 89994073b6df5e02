"""Request and response bodies of the PBX platform API and its admin routes (see API.md)."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pbxsim.schemas import http_url


class ServiceState(StrEnum):
    PROVISIONING = "provisioning"
    ACTIVE = "active"
    DEACTIVATING = "deactivating"
    DEACTIVATED = "deactivated"
    REACTIVATING = "reactivating"
    DELETING = "deleting"
    DELETED = "deleted"


Seconds = float | None  # None: the platform never finishes that job by itself (stuck).


class TenantSettings(BaseModel):
    """Per-tenant platform timings; stored as JSON so new procedures add a field, not a column."""

    model_config = ConfigDict(extra="ignore")

    deactivation_seconds: Seconds = Field(default=3.0, ge=0)
    reactivation_seconds: Seconds = Field(default=3.0, ge=0)
    # How long the delivery team's erasure of recordings and data takes.
    deletion_seconds: Seconds = Field(default=3.0, ge=0)


class Access(BaseModel):
    portal_url: str
    sip_domain: str


class Service(BaseModel):
    state: ServiceState
    access: Access | None
    billing_active: bool
    usage_minutes: int


class StoredData(BaseModel):
    """How much of the tenant's data the platform still holds."""

    users: int
    extensions: int
    extensions_registered: int
    recordings: int
    # A deletion erases these too (lines end, numbers released, contacts and
    # problem reports closed); the deletion's final check reads them here.
    mobile_lines: int = 0
    numbers: int = 0
    support_contacts: int = 0
    problem_reports: int = 0
    """Problem reports still open (a deletion closes them as "service deleted")."""


class TenantOut(BaseModel):
    id: str
    name: str
    country: str
    timezone: str
    service: Service
    settings: TenantSettings
    data: StoredData
    deleted_at: datetime | None = None


class UserIn(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    name: str
    email: str
    roles: list[str] = Field(default_factory=list)


class UserOut(UserIn):
    pass


class ExtensionIn(BaseModel):
    number: str = Field(min_length=1, max_length=32)
    user_id: str | None = None
    registered: bool = True


class ExtensionOut(ExtensionIn):
    pass


class TransitionIn(BaseModel):
    callback_url: str | None = None

    _check_url = field_validator("callback_url")(http_url)


class PurgeOut(BaseModel):
    tenant_id: str
    step: str
    removed: int


class PurgeIn(BaseModel):
    steps: list[str] = Field(min_length=1, description="purge steps, run in this order")


class PurgeAllOut(BaseModel):
    tenant_id: str
    steps: list[PurgeOut]


class JobAccepted(BaseModel):
    job_id: str
    kind: str
    tenant_id: str
    state: ServiceState
    due_at: datetime | None


class CallbackOut(BaseModel):
    state: str
    attempts: int


class JobOut(BaseModel):
    job_id: str
    kind: str
    tenant_id: str
    status: str
    created_at: datetime
    due_at: datetime | None
    finished_at: datetime | None
    callback: CallbackOut | None


class TenantIn(BaseModel):
    """A whole tenant as tests and demos want it; everything but the id has a default."""

    name: str | None = None
    country: str = Field(default="IT", min_length=2, max_length=2)
    timezone: str = "Europe/Rome"
    state: ServiceState = ServiceState.ACTIVE
    billing_active: bool = True
    usage_minutes: int = Field(default=0, ge=0)
    deactivation_seconds: Seconds = Field(default=3.0, ge=0)
    reactivation_seconds: Seconds = Field(default=3.0, ge=0)
    deletion_seconds: Seconds = Field(default=3.0, ge=0)
    recordings: int = Field(default=0, ge=0, le=10_000, description="how many to create")
    users: list[UserIn] = Field(default_factory=list)
    extensions: list[ExtensionIn] = Field(default_factory=list)

    @field_validator("extensions")
    @classmethod
    def _unique_numbers(cls, extensions: list[ExtensionIn]) -> list[ExtensionIn]:
        numbers = [ext.number for ext in extensions]
        if len(numbers) != len(set(numbers)):
            raise ValueError("extension numbers must be unique")
        return extensions

    @field_validator("users")
    @classmethod
    def _unique_users(cls, users: list[UserIn]) -> list[UserIn]:
        ids = [user.id for user in users]
        if len(ids) != len(set(ids)):
            raise ValueError("user ids must be unique")
        return users

    @model_validator(mode="after")
    def _known_users(self) -> "TenantIn":
        known = {user.id for user in self.users}
        for ext in self.extensions:
            if ext.user_id is not None and ext.user_id not in known:
                raise ValueError(f"extension {ext.number} refers to unknown user '{ext.user_id}'")
        return self


class SettingsPatch(BaseModel):
    """Only the fields present change; ``null`` means "never finishes" (a stuck platform)."""

    model_config = ConfigDict(extra="forbid")

    deactivation_seconds: Seconds = Field(default=None, ge=0)
    reactivation_seconds: Seconds = Field(default=None, ge=0)
    deletion_seconds: Seconds = Field(default=None, ge=0)
