"""Gateway settings (``GATEWAY_*``): token signing and verification, origins, limits, service URLs."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    # Local installs sign their own tokens (HS256 with this secret); it must come from the environment.
    jwt_secret: SecretStr | None = None
    jwt_issuer: str = "switchboard-gateway"
    jwt_audience: str = "switchboard"
    access_token_seconds: int = Field(default=900, ge=60, le=3600)
    customer_token_seconds: int = Field(default=3600, ge=60, le=24 * 3600)
    clock_skew_seconds: int = Field(default=30, ge=0, le=120)
    # Production: tokens from the company's OIDC provider, verified against its JWKS.
    oidc_jwks_url: str | None = None
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_roles_claim: str = "roles"

    allowed_origins: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8080", "http://localhost:8080"]
    )
    ws_ticket_seconds: int = Field(default=30, ge=5, le=120)
    ws_buffer_frames: int = Field(default=256, ge=8, le=100_000)
    rate_per_second: float = Field(default=20.0, gt=0)
    rate_burst: int = Field(default=60, ge=1)
    login_attempts_per_minute: int = Field(default=10, ge=1)

    routing_url: str = "http://127.0.0.1:8101"
    messaging_url: str = "http://127.0.0.1:8102"
    voice_url: str = "http://127.0.0.1:8103"
    email_url: str = "http://127.0.0.1:8104"
    acw_url: str = "http://127.0.0.1:8105"
    upstream_timeout_seconds: float = Field(default=10.0, gt=0)
