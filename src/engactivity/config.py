"""Service settings, gathered in one place (flags and ENGACTIVITY_* variables fill them)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from engactivity.store.base import MIN_RETENTION_MS

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


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe to print and log)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def check_store_url(url: str) -> None:
    """Raise ValueError when ``url`` cannot name a store (without opening it)."""
    if url.startswith("sqlite:///"):
        rest = url.removeprefix("sqlite:///")
        if not rest or rest.startswith(":memory:"):
            raise ValueError(
                "a SQLite store needs a file path, e.g. sqlite:///./data/engactivity.db"
            )
        return
    if url.startswith(("postgresql://", "postgres://")):
        return  # checked when the engine opens it
    raise ValueError(
        f"unsupported store URL {mask_url(url)!r}: use sqlite:///relative/path.db "
        "or sqlite:////absolute/path.db"
    )
