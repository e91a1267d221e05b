"""Store URLs: the default one, checking one without opening it, printing one safely."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

DEFAULT_STORE_URL = "sqlite:///./data/engactivity.db"


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
