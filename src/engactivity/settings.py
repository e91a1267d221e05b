"""The settings of ``engactivity serve``, declared once.

Each field of ``Settings`` is one setting, one-to-one with a flag of ``serve``: the
field's name is the flag's (``max_concurrent`` is ``--max-concurrent``) and the key
in a ``--config`` file; its metadata (a ``Setting``) holds the flag, the
``ENGACTIVITY_*`` variable, the help text and the checks. The options of ``serve``
and ``config`` are made from these fields (cli/serve.py), so adding a setting is
adding a field here.

Fields hold what was given, in the units of the flags (minutes, MB, "full"); the
properties give the units the code works in (``retention_ms``, ``answer_cache_bytes``,
``synchronous``, ...).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from engactivity.core.timeframe import MINUTE_MS
from engactivity.logs import LOG_FORMATS
from engactivity.store import DEFAULT_MEMORY_BYTES, MIN_RETENTION_MS
from engactivity.store.url import DEFAULT_STORE_URL

T = TypeVar("T")

LOG_LEVELS = ("debug", "info", "warning", "error")

_MIN_AUTO_MEMORY = 256 * 1024 * 1024
_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


@dataclass(frozen=True)
class Setting:
    """How one setting is given and checked: the metadata of a ``Settings`` field."""

    flag: str
    env: str
    help: str
    min: int | None = None
    choices: tuple[str, ...] = ()
    """The values accepted, in any case; empty: any."""
    refusal: str = ""
    """The message for a value not in ``choices`` ({value} is the value); empty: the
    choices listed. Written out where the message predates this declaration."""

    def check(self, value: object) -> None:
        """Raise ValueError, naming the flag, when ``value`` is not acceptable."""
        if self.min is not None and isinstance(value, int | float) and value < self.min:
            raise ValueError(f"{self.flag} must be at least {self.min}")
        if self.choices and isinstance(value, str) and value.lower() not in self.choices:
            *first, last = self.choices
            listed = f"{', '.join(first)} or {last}" if first else last
            template = self.refusal or "{flag} must be {listed}"
            raise ValueError(template.format(flag=self.flag, listed=listed, value=value.lower()))


def setting(
    default: T,
    flag: str,
    env: str,
    help: str,
    *,
    min: int | None = None,
    choices: tuple[str, ...] = (),
    refusal: str = "",
) -> T:
    """A ``Settings`` field: its default, then how it is given and checked."""
    return field(
        default=default, metadata={"setting": Setting(flag, env, help, min, choices, refusal)}
    )


@dataclass(frozen=True)
class Settings:
    """What ``engactivity serve`` runs with; checked when made (ValueError)."""

    host: str = setting("127.0.0.1", "--host", "ENGACTIVITY_HOST", "Address to bind.")
    port: int = setting(8080, "--port", "ENGACTIVITY_PORT", "Port to listen on.")
    store: str = setting(
        DEFAULT_STORE_URL,
        "--store",
        "ENGACTIVITY_STORE",
        "Store URL: sqlite:///relative/path.db, sqlite:////absolute/path.db, "
        "or postgresql://user:password@host:5432/database.",
    )
    demo: bool = setting(
        False,
        "--demo",
        "ENGACTIVITY_DEMO",
        "Also run the traffic simulator for account 'demo' (24 h of backfill).",
    )
    public_host: str | None = setting(
        None,
        "--public-host",
        "ENGACTIVITY_PUBLIC_HOST",
        "host[:port] that domain discovery answers (default: the address served).",
    )
    max_concurrent: int = setting(
        64,
        "--max-concurrent",
        "ENGACTIVITY_MAX_CONCURRENT",
        "Concurrent engactivity requests per account before 429.",
        min=1,
    )
    max_batch_events: int = setting(
        10_000, "--max-batch-events", "ENGACTIVITY_MAX_BATCH_EVENTS", "Events per batch.", min=1
    )
    max_batch_bytes: int = setting(
        10 * 1024 * 1024,
        "--max-batch-bytes",
        "ENGACTIVITY_MAX_BATCH_BYTES",
        "Bytes per batch.",
        min=1,
    )
    retention_minutes: int = setting(
        MIN_RETENTION_MS // MINUTE_MS,
        "--retention-minutes",
        "ENGACTIVITY_RETENTION_MINUTES",
        "How long buckets and event ids are kept.",
        min=MIN_RETENTION_MS // MINUTE_MS,
    )
    answer_cache_mb: int = setting(
        256,
        "--answer-cache-mb",
        "ENGACTIVITY_ANSWER_CACHE_MB",
        "Memory for answers served again while the account's data is unchanged.",
        min=0,
    )
    memory_mb: float = setting(
        0.0,
        "--memory-mb",
        "ENGACTIVITY_MEMORY_MB",
        "Memory (MiB, fractions allowed) for the accounts' rollups in each process: the "
        "least recently used accounts are dropped beyond it, and read again when asked "
        "for. 0: half the machine's (or container's) memory, shared by --workers.",
        min=0,
    )
    push_period_ms: int = setting(
        1000,
        "--push-period-ms",
        "ENGACTIVITY_PUSH_PERIOD_MS",
        "Event streams (Accept: text/event-stream): at most one new answer per "
        "question per this many milliseconds; also how often other processes' "
        "writes are looked for.",
        min=10,
    )
    push_heartbeat_s: int = setting(
        15,
        "--push-heartbeat-s",
        "ENGACTIVITY_PUSH_HEARTBEAT_S",
        "Seconds between the comment lines that keep an idle event stream open.",
        min=1,
    )
    push_send_timeout_s: int = setting(
        30,
        "--push-send-timeout-s",
        "ENGACTIVITY_PUSH_SEND_TIMEOUT_S",
        "Seconds an event stream's client may take no bytes (its socket full) "
        "before the stream is dropped.",
        min=1,
    )
    max_streams: int = setting(
        1000,
        "--max-streams",
        "ENGACTIVITY_MAX_STREAMS",
        "Event streams a server process keeps open at once before 503 (0: none).",
        min=0,
    )
    sync: str = setting(
        "full",
        "--sync",
        "ENGACTIVITY_SYNC",
        "SQLite durability: full (survives power loss) or normal (survives crashes).",
        choices=("full", "normal"),
        refusal="{flag} must be 'full' or 'normal'",
    )
    log_level: str = setting(
        "info",
        "--log-level",
        "ENGACTIVITY_LOG_LEVEL",
        "debug, info, warning or error.",
        choices=LOG_LEVELS,
    )
    log_format: str = setting(
        "text",
        "--log-format",
        "ENGACTIVITY_LOG_FORMAT",
        "text (human-readable lines) or json (one JSON object per line).",
        choices=LOG_FORMATS,
        refusal="{flag}: log format must be one of " + ", ".join(LOG_FORMATS) + ", not {value!r}",
    )
    metrics_account_labels: bool = setting(
        False,
        "--metrics-account-labels",
        "ENGACTIVITY_METRICS_ACCOUNT_LABELS",
        "Label the 429 counter of /metrics by account (one series per account).",
    )
    insecure_no_auth: bool = setting(
        False,
        "--insecure-no-auth",
        "ENGACTIVITY_INSECURE_NO_AUTH",
        "Serve without checking API keys: anyone reaching the port can read and "
        "write every account. Local experiments only; warned at every start.",
    )
    master_key_file: str | None = setting(
        None,
        "--master-key-file",
        "ENGACTIVITY_MASTER_KEY_FILE",
        "File of the key that seals OAuth 1.0a secrets (default for SQLite: the "
        "database path + .key). ENGACTIVITY_MASTER_KEY (base64) wins over it.",
    )
    metrics_token: str | None = setting(
        None,
        "--metrics-token",
        "ENGACTIVITY_METRICS_TOKEN",
        "Bearer token GET /metrics requires. Without it /metrics is open when "
        "the server binds loopback only, refused otherwise.",
    )
    session_idle_minutes: int = setting(
        30,
        "--session-idle-minutes",
        "ENGACTIVITY_SESSION_IDLE_MINUTES",
        "Minutes a login session (POST .../login) lasts unused; a refresh or a request "
        "with its bearer is a use.",
        min=1,
    )
    shutdown_timeout: int = setting(
        10,
        "--shutdown-timeout",
        "ENGACTIVITY_SHUTDOWN_TIMEOUT",
        "Seconds requests in flight get to finish after SIGTERM/SIGINT.",
        min=0,
    )
    keep_alive_s: int = setting(
        75,
        "--keep-alive-s",
        "ENGACTIVITY_KEEP_ALIVE_S",
        "Seconds an idle HTTP connection is kept open for the client's next request.",
        min=1,
    )
    workers: int = setting(
        1,
        "--workers",
        "ENGACTIVITY_WORKERS",
        "Server processes sharing the port (more than 1 needs a PostgreSQL store).",
        min=1,
    )
    tls_cert: str | None = setting(
        None,
        "--tls-cert",
        "ENGACTIVITY_TLS_CERT",
        "PEM file of the server's certificate (its chain after it): --port serves "
        "https://. Needs --tls-key.",
    )
    tls_key: str | None = setting(
        None,
        "--tls-key",
        "ENGACTIVITY_TLS_KEY",
        "PEM file of the certificate's private key (not encrypted).",
    )
    http_port: int | None = setting(
        None,
        "--http-port",
        "ENGACTIVITY_HTTP_PORT",
        "With --tls-cert: also serve plain http:// on this port (e.g. 80, for "
        "clients that call domain discovery over http).",
    )
    forwarded_allow_ips: str = setting(
        "127.0.0.1,::1",
        "--forwarded-allow-ips",
        "ENGACTIVITY_FORWARDED_ALLOW_IPS",
        "Addresses of proxies whose X-Forwarded-Proto and X-Forwarded-For are "
        "believed (comma separated, networks allowed; * for any).",
    )

    def __post_init__(self) -> None:
        for each, spec in declared():
            spec.check(getattr(self, each.name))
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("--tls-cert and --tls-key go together: give both, or neither")
        if self.http_port is not None and self.tls_cert is None:
            raise ValueError("--http-port is a plain port next to the TLS one: it needs --tls-cert")
        if self.http_port == self.port:
            raise ValueError("--http-port must differ from --port")

    @property
    def scheme(self) -> str:
        """What --port serves: https with a certificate, else http."""
        return "http" if self.tls_cert is None else "https"

    @property
    def store_url(self) -> str:
        return self.store

    @property
    def max_concurrent_per_account(self) -> int:
        return self.max_concurrent

    @property
    def retention_ms(self) -> int:
        return self.retention_minutes * MINUTE_MS

    @property
    def answer_cache_bytes(self) -> int:
        """Memory for rendered answers; 0: no cache."""
        return self.answer_cache_mb * 1024 * 1024

    @property
    def memory_bytes(self) -> int:
        """The accounts' rollups each process keeps in memory (docs/configuration.md)."""
        if self.memory_mb:
            return int(self.memory_mb * 1024 * 1024)
        return max(_MIN_AUTO_MEMORY, physical_memory() // 2 // self.workers)

    @property
    def session_idle_ms(self) -> int:
        return self.session_idle_minutes * MINUTE_MS

    @property
    def synchronous(self) -> str:
        """SQLite's PRAGMA synchronous: FULL survives power loss, NORMAL process crashes."""
        return self.sync.upper()

    @property
    def auth(self) -> bool:
        """Check API keys (docs/security.md)."""
        return not self.insecure_no_auth

    @property
    def advertised_host(self) -> str:
        """host[:port] answered by domain discovery."""
        return self.public_host or f"{self.host}:{self.port}"


def physical_memory() -> int:
    """The memory this process may have: the machine's, or its container's limit when
    lower (cgroup v2, then v1; "max" or a huge figure there means no limit)."""
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        total = DEFAULT_MEMORY_BYTES * 2
    for limit in _CGROUP_LIMITS:
        try:
            text = Path(limit).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def declared() -> Iterator[tuple[Field[Any], Setting]]:
    """Every field of ``Settings`` with its ``Setting``, in the order of ``serve --help``."""
    for each in fields(Settings):
        yield each, each.metadata["setting"]
