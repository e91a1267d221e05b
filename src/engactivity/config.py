"""Service settings, gathered in one place (flags and ENGACTIVITY_* variables fill them)."""

from __future__ import annotations

from dataclasses import dataclass

from engactivity.store import MIN_RETENTION_MS, mask_url, parse_store_url

__all__ = ["DEFAULT_STORE_URL", "Settings", "check_store_url", "mask_url"]

DEFAULT_STORE_URL = "sqlite:///./data/engactivity.db"


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    store_url: str = DEFAULT_STORE_URL
    public_host: str | None = None
    """host[:port] answered by domain discovery; defaults to the address served."""
    demo: bool = False
    max_concurrent_per_account: int = 64
    """Concurrent engactivity requests one account may have in flight before 429."""
    max_batch_events: int = 10_000
    max_batch_bytes: int = 10 * 1024 * 1024
    retention_ms: int = MIN_RETENTION_MS
    answer_cache_bytes: int = 256 * 1024 * 1024
    """Memory for rendered answers served again while the data is unchanged; 0: none."""
    synchronous: str = "FULL"
    """SQLite durability: FULL survives power loss, NORMAL survives process crashes."""
    metrics_account_labels: bool = False
    """Label the 429 counter of /metrics by account (one series per account)."""
    auth: bool = True
    """Check API keys (docs/security.md); False only with serve --insecure-no-auth."""
    master_key_file: str | None = None
    """Key sealing OAuth 1.0a secrets; default ``<database>.key`` for SQLite."""
    metrics_token: str | None = None
    """Bearer token /metrics requires; without one, /metrics is open on loopback binds only."""

    @property
    def advertised_host(self) -> str:
        return self.public_host or f"{self.host}:{self.port}"


def check_store_url(url: str) -> None:
    """Raise StoreURLError (a ValueError) when ``url`` cannot name a store."""
    parse_store_url(url)
