"""Serving the settings: one object owns start-up, from opening the store to closing it.

``Service(settings, clock).run()`` opens the store, its key store and the Login
Service's tables, makes the demo keys when asked, builds the app on them (the app opens
nothing itself), serves it on a socket it bound until SIGTERM or SIGINT, and closes
everything on the way out. With
``workers`` above 1 the parent prepares the database, binds the socket and forks
(workers.py); each worker then serves exactly as a single process does, on the
shared socket.

The app (engactivity.api) is imported only once serving starts: with workers,
prometheus_client must not be imported before workers.py has set
PROMETHEUS_MULTIPROC_DIR (it picks its mode at import).
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import socket
from contextlib import closing
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from engactivity.auth.keystore import KeyStore, open_keystore
from engactivity.auth.login import LoginService, open_login_stores
from engactivity.clock import Clock
from engactivity.interpreter import settle_after_startup
from engactivity.methods import tables_of
from engactivity.settings import Settings
from engactivity.store import (
    Database,
    Store,
    StoreUnavailable,
    StoreURLError,
    mask_url,
    migrate_store,
    open_database,
    open_store,
    parse_store_url,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("engactivity")


class ServiceError(Exception):
    """The service cannot start; the message says why (``serve`` exits with status 2)."""


class Service:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock

    def run(self) -> None:
        """Serve until SIGTERM or SIGINT: in this process, or in ``workers`` forked ones."""
        if self.settings.workers > 1:
            self._run_workers()
        else:
            self._run_single()

    def _run_single(self) -> None:
        settings = self.settings
        opened = self._open()
        try:
            if settings.demo and opened.keys is not None:
                self._demo_keys(opened.keys)
            log.info(
                "engactivity serving on http://%s:%s (store %s)",
                settings.host,
                settings.port,
                mask_url(settings.store),
            )
            app = self._app(settings, opened)
            with closing(bind(settings)) as sock:
                serve(app, sock, settings)
        finally:
            opened.close()
            log.info("store closed; stopped")

    def _run_workers(self) -> None:
        from engactivity.workers import serve_workers

        settings = self.settings
        if parse_store_url(settings.store).engine != "postgresql":
            raise ServiceError(
                "--workers above 1 needs a PostgreSQL store (--store postgresql://...): a "
                "SQLite store has one writing process; one process already uses every core "
                "it can"
            )
        try:
            migrate_store(settings.store, tables_of())  # once here, not racing in every worker
        except Exception as exc:
            raise ServiceError(
                f"cannot prepare the database {mask_url(settings.store)}: {exc}"
            ) from exc
        if settings.demo and settings.auth:
            self._demo_keys_before_forking()
        log.info(
            "engactivity serving on http://%s:%s with %d workers (store %s)",
            settings.host,
            settings.port,
            settings.workers,
            mask_url(settings.store),
        )
        with closing(bind(settings)) as sock:
            serve_workers(
                settings.workers,
                settings.shutdown_timeout,
                lambda index: self._serve_worker(index, sock),
            )

    def _serve_worker(self, index: int, sock: socket.socket) -> None:
        """One forked worker: served as a single process is, on the shared socket."""
        # Only the first worker runs the demo traffic, so it is not multiplied.
        settings = self.settings if index == 0 else dataclasses.replace(self.settings, demo=False)
        opened = self._open()
        try:
            serve(self._app(settings, opened), sock, settings)
        finally:
            opened.close()

    def _open(self) -> Opened:
        """The database, the store on it, its key store on the same connections (None
        when authentication is off) and the Login Service's tables."""
        settings = self.settings
        try:
            db = open_database(settings.store, settings.synchronous)
        except (StoreURLError, StoreUnavailable, ValueError, OSError) as exc:
            raise ServiceError(str(exc)) from exc
        store: Store | None = None
        try:
            store = open_store(
                settings.store, self.clock, tables_of(), settings.retention_ms, database=db
            )
            keys = KeyStore(db) if settings.auth else None
            stores = open_login_stores(db, settings.store, settings.session_idle_ms)
            return Opened(db, store, keys, LoginService(stores, self.clock))
        except BaseException as exc:
            if store is not None:
                store.close()
            db.close()
            if isinstance(exc, (StoreUnavailable, ValueError, OSError)):
                raise ServiceError(str(exc)) from exc
            raise

    def _app(self, settings: Settings, opened: Opened) -> FastAPI:
        from engactivity.api.app import create_app  # here, not above: see the module's docstring

        return create_app(settings, self.clock, opened.store, opened.keys, logins=opened.logins)

    def _demo_keys(self, keys: KeyStore) -> None:
        """``serve --demo``: read keys for account 'demo', printed at start."""
        from engactivity.demo import demo_keys

        settings = self.settings
        key_file = Path(settings.master_key_file) if settings.master_key_file else None
        try:
            demo_keys(keys, settings.store, key_file, settings.host, settings.port)
        except Exception as exc:
            raise self._demo_failed(exc) from exc

    def _demo_keys_before_forking(self) -> None:
        """The demo keys through a key store of their own, closed before the workers are
        forked (each opens its own), so a worker restarted later does not make new ones."""
        try:
            keys = open_keystore(self.settings.store)
        except Exception as exc:
            raise self._demo_failed(exc) from exc
        with closing(keys):
            self._demo_keys(keys)

    def _demo_failed(self, exc: Exception) -> ServiceError:
        where = mask_url(self.settings.store)
        return ServiceError(f"cannot create the demo keys in {where}: {exc}")


@dataclasses.dataclass(frozen=True)
class Opened:
    """What a serving process opens, and closes on the way out."""

    db: Database
    store: Store
    keys: KeyStore | None
    logins: LoginService

    def close(self) -> None:
        # Explicitly, the store first (its writer drains), then the database the key
        # store shares: the SQLite file is checkpointed (its -wal file removed) when its
        # last connection closes.
        try:
            self.store.close()
        finally:
            self.logins.close()
            self.db.close()


def bind(settings: Settings) -> socket.socket:
    """The listening socket on host:port, inheritable by forked workers."""
    import uvicorn

    # uvicorn logs "Uvicorn running on ..." here; log_config=None keeps our log format.
    config = uvicorn.Config("engactivity:unused", settings.host, settings.port, log_config=None)
    return config.bind_socket()


def serve(app: FastAPI, sock: socket.socket, settings: Settings) -> None:
    """Serve ``app`` on ``sock`` until SIGTERM or SIGINT, letting the requests in flight
    finish (for at most ``shutdown_timeout`` seconds); then return, the caller closes.

    The one way of serving: the single process and every worker use it.
    """
    import uvicorn

    config = uvicorn.Config(
        app,
        log_level=settings.log_level.lower(),
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=settings.shutdown_timeout,
    )
    settle_after_startup()
    # uvicorn drains on SIGTERM, then raises the signal again once it has stopped;
    # with the default handler that would end the process before the store is closed.
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    except (_Terminated, KeyboardInterrupt):
        pass  # stopped as asked: exit status 0 once the caller has closed the store
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Terminated(Exception):
    """SIGTERM arrived: stop as after a normal shutdown (exit status 0)."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated
