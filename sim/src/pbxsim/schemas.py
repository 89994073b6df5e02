"""Bodies of the fault-injection admin API, and the URL check several systems' bodies share.

Each simulated system keeps its own in its subpackage (``pbx.schemas``, ``helpdesk.schemas``…).
"""

from pydantic import BaseModel, Field, field_validator


def http_url(value: str | None) -> str | None:
    # Kept as a plain string (no URL normalisation): callback paths carry percent-encoded ids
    # that must come back byte for byte.
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value


class FaultRuleIn(BaseModel):
    route_prefix: str = Field(min_length=1, max_length=300)
    error_rate: float = Field(default=0.0, ge=0, le=1)
    latency_ms: int = Field(default=0, ge=0, le=600_000)
    latency_rate: float = Field(default=1.0, ge=0, le=1)

    @field_validator("route_prefix")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value


class FaultRuleOut(FaultRuleIn):
    pass
