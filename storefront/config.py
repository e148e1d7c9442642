"""Settings from the environment and `.env` (pydantic-settings). Secrets are SecretStr and never printed."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from storefront.errors import ConfigError

__all__ = ["Settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field(
        "sqlite+aiosqlite:///storefront.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///file.db or postgresql+asyncpg://...",
    )
    catalog_path: Path = Path("catalog.toml")

    stripe_api_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str | None = Field(None, description="Override Stripe's API address (local stand-ins).")
    stripe_requests_per_second: float = 20.0

    http_host: str = "127.0.0.1"
    http_port: int = 8080
    public_base_url: str = "http://127.0.0.1:8080"

    grace_period_days: float = 3.0
    webhook_max_attempts: int = 8

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str | None = None
    discord_bot_token: SecretStr | None = None
    discord_guild_id: int | None = None
    admin_telegram_ids: list[int] = Field(default_factory=list)
    admin_discord_ids: list[int] = Field(default_factory=list)

    @field_validator(
        "stripe_api_key",
        "stripe_webhook_secret",
        "stripe_api_base",
        "telegram_bot_token",
        "telegram_api_base_url",
        "discord_bot_token",
        "discord_guild_id",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        """`KEY=` in .env (as in .env.example) means not configured."""
        return None if isinstance(value, str) and not value.strip() else value

    admin_token: SecretStr | None = Field(
        None, description="Token for the /admin page (16+ characters); unset turns the page off."
    )

    # Drops
    drop_hold_minutes: float = Field(10.0, gt=0, description="How long a claim holds a unit before it goes back.")
    drop_waitlist_hold_minutes: float = Field(10.0, gt=0)
    drop_refund_restock: bool = Field(False, description="A refunded drop purchase puts its unit back on sale.")
    drop_reminder_minutes: float = 15.0
    drop_checkout_links_per_second: float = 15.0
    drop_sweep_seconds: float = 10.0
    drop_announce_telegram_chat_ids: list[int] = Field(default_factory=list)
    drop_announce_discord_channel_ids: list[int] = Field(default_factory=list)
    drop_countdown_edit_seconds: float = Field(60.0, gt=0, description="Edit a countdown post at most this often.")
    drop_announce_seconds: float = Field(15.0, gt=0)

    # Packs, downloads, licenses
    blob_store: Literal["local", "s3"] = "local"
    blob_dir: Path = Path("blobs")
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = Field(None, description="Any S3-compatible server; unset means AWS.")
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_addressing_style: Literal["auto", "path", "virtual"] = "auto"
    download_token_key: SecretStr | None = Field(None, description="HMAC key of /dl links (>= 32 chars).")
    download_token_key_path: Path = Path("keys/download_token.key")
    license_signing_key_path: Path = Path("keys/license_signing_ed25519.pem")
    download_presign_seconds: int = Field(60, ge=1, le=604800)
    pack_fanout_batch: int = Field(200, ge=1, le=5000)

    def has_any_account(self) -> bool:
        """True when any external account is configured; with none, `run` falls back to the demo."""
        return any(
            secret is not None
            for secret in (
                self.stripe_api_key,
                self.stripe_webhook_secret,
                self.telegram_bot_token,
                self.discord_bot_token,
            )
        )

    def has_chat_platform(self) -> bool:
        return self.telegram_bot_token is not None or self.discord_bot_token is not None

    def require_webhook_secret(self) -> str:
        """The webhook signing secret; refuses to go on without one rather than accept unsigned events."""
        if self.stripe_webhook_secret is None:
            raise ConfigError(
                "STRIPE_WEBHOOK_SECRET is not set: refusing to start a webhook endpoint that cannot verify signatures"
            )
        return self.stripe_webhook_secret.get_secret_value()
