"""Store URLs, parsed in one place.

``sqlite:///relative/path.db`` and ``sqlite:////absolute/path.db`` name a SQLite file;
``postgresql://user:password@host:5432/database`` (or ``postgres://``) a PostgreSQL
database, passed to libpq as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

DEFAULT_STORE_URL = "sqlite:///./data/engactivity.db"

_SQLITE = "sqlite:///"
_POSTGRES = ("postgresql://", "postgres://")


class StoreURLError(ValueError):
    """The URL names no store this service can open."""


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe to print and log)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    # The hosts are kept as written: a libpq multi-host URL (``h1:5432,h2:5432``) has
    # no single port for urlsplit to parse.
    userinfo, _, hosts = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hosts}"))


@dataclass(frozen=True)
class StoreURL:
    url: str
    engine: Literal["sqlite", "postgresql"]

    @property
    def path(self) -> Path:
        """The SQLite file (SQLite URLs only)."""
        assert self.engine == "sqlite"
        return Path(self.url.removeprefix(_SQLITE))

    @property
    def masked(self) -> str:
        return mask_url(self.url)

    def __str__(self) -> str:
        return self.masked


def parse_store_url(url: str) -> StoreURL:
    """The store ``url`` names; StoreURLError (with what is allowed) when none."""
    if url.startswith(_SQLITE):
        rest = url.removeprefix(_SQLITE)
        if not rest or rest.startswith(":memory:"):
            raise StoreURLError(
                "a SQLite store needs a file path, e.g. sqlite:///./data/engactivity.db"
            )
        return StoreURL(url, "sqlite")
    if url.startswith(_POSTGRES):
        return StoreURL(url, "postgresql")  # libpq checks the rest when it connects
    raise StoreURLError(
        f"unsupported store URL {mask_url(url)!r}: use sqlite:///relative/path.db, "
        "sqlite:////absolute/path.db or postgresql://user:password@host:5432/database"
    )


def check_store_url(url: str) -> None:
    """Raise StoreURLError (a ValueError) when ``url`` cannot name a store (without
    opening it)."""
    parse_store_url(url)
