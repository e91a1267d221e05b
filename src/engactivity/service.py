"""Serving the settings: one object owns start-up, from opening the store to closing it.

``Service(settings, clock).run()`` loads the TLS certificate when one is given, opens
the store, its key store and the Login Service's tables, makes the demo keys when
asked, builds the app on them (the app opens nothing itself), serves it on the sockets
it bound (serving.py) until SIGTERM or SIGINT, and closes everything on the way out.
With ``workers`` above 1 the parent prepares the database, binds the sockets and forks
(workers.py); each worker then serves exactly as a single process does, on the shared
sockets.

The app (engactivity.api) and uvicorn (serving.py) are imported only once serving
starts: with workers, prometheus_client must not be imported before workers.py has
set PROMETHEUS_MULTIPROC_DIR (it picks its mode at import).
"""

from __future__ import annotations

import dataclasses
import logging
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

from engactivity.accountconfig.store import ConfigStore
from engactivity.auth.keystore import KeyStore, open_keystore
from engactivity.auth.login import LoginService, open_login_stores
from engactivity.clock import Clock
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
from engactivity.tls import ServerTLS, TLSError, load_tls

if TYPE_CHECKING:
    from fastapi import FastAPI

    from engactivity.serving import Listeners

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
        from engactivity import serving  # here, not above: see the module's docstring

        settings = self.settings
        tls = self._tls()
        opened = self._open()
        try:
            if settings.demo and opened.keys is not None:
                self._demo_keys(opened.keys)
            where, masked = _where(settings), mask_url(settings.store)
            log.info("engactivity serving on %s (store %s)", where, masked)
            app = self._app(settings, opened)
            with closing(serving.bind(settings, tls)) as listeners:
                serving.serve(app, listeners, settings)
        finally:
            opened.close()
            log.info("store closed; stopped")

    def _run_workers(self) -> None:
        from engactivity import serving
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
        tls = self._tls()
        log.info(
            "engactivity serving on %s with %d workers (store %s)",
            _where(settings),
            settings.workers,
            mask_url(settings.store),
        )
        with closing(serving.bind(settings, tls)) as listeners:
            serve_workers(
                settings.workers,
                settings.shutdown_timeout,
                lambda index: self._serve_worker(index, listeners),
            )

    def _serve_worker(self, index: int, listeners: Listeners) -> None:
        """One forked worker: served as a single process is, on the shared sockets."""
        from engactivity import serving

        # Only the first worker runs the demo traffic, so it is not multiplied.
        settings = self.settings if index == 0 else dataclasses.replace(self.settings, demo=False)
        opened = self._open()
        try:
            serving.serve(self._app(settings, opened), listeners, settings)
        finally:
            opened.close()

    def _tls(self) -> ServerTLS | None:
        """The TLS of --port, checked before anything is bound or opened."""
        settings = self.settings
        if settings.tls_cert is None or settings.tls_key is None:
            return None
        try:
            tls = load_tls(settings.tls_cert, settings.tls_key)
        except TLSError as exc:
            raise ServiceError(str(exc)) from exc
        log.info("TLS on port %s: %s", settings.port, tls.describe())
        return tls

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
                settings.store,
                self.clock,
                tables_of(),
                settings.retention_ms,
                database=db,
                memory_bytes=settings.memory_bytes,
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

        try:
            configs = ConfigStore(opened.db, write=opened.store.transaction)
        except StoreUnavailable as exc:
            raise ServiceError(str(exc)) from exc
        return create_app(
            settings, self.clock, opened.store, opened.keys, configs=configs, logins=opened.logins
        )

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


def _where(settings: Settings) -> str:
    """The addresses served, for the start-up line."""
    where = f"{settings.scheme}://{settings.host}:{settings.port}"
    if settings.http_port is not None:
        where += f" and http://{settings.host}:{settings.http_port}"
    return where
