"""The HTTP application: composed here from its parts; it opens nothing itself.

The store and the key store are opened by whoever serves the app (the service) and
handed in; the app answers the registered methods, takes events, and serves
discovery, health, metrics and the wallboard.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from starlette.routing import BaseRoute, Route

from engactivity import __version__
from engactivity.accountconfig.store import ConfigStore
from engactivity.api.access.install import install_auth
from engactivity.api.access.openapi import describe_security
from engactivity.api.access.table import RouteTable
from engactivity.api.answers import Answers
from engactivity.api.configuration import install_configuration
from engactivity.api.discovery import install_discovery
from engactivity.api.errors import install_error_handlers
from engactivity.api.headerlimit import HeaderLimitMiddleware
from engactivity.api.health import install_health
from engactivity.api.ingestion import install_ingestion
from engactivity.api.limits import ConcurrencyLimiter
from engactivity.api.login import LoginRoutes
from engactivity.api.metrics_route import install_metrics_route
from engactivity.api.push import Streams
from engactivity.api.pushhub import Hub
from engactivity.api.queries import QUERY_PREFIX, MethodRoutes
from engactivity.api.request_metrics import MetricsMiddleware
from engactivity.api.requestlog import RequestLogMiddleware
from engactivity.api.shutdown import ShutdownGuard
from engactivity.api.wallboard import install_wallboard
from engactivity.auth.keystore import KeyStore
from engactivity.auth.login import LoginService
from engactivity.clock import Clock
from engactivity.ingest import Ingestor, Limits
from engactivity.methods import METHODS
from engactivity.methods.method import AnyMethod
from engactivity.settings import Settings
from engactivity.store import Store, StoreUnavailable

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    clock: Clock,
    store: Store,
    keys: KeyStore | None,
    methods: tuple[AnyMethod, ...] = METHODS,
    configs: ConfigStore | None = None,
    logins: LoginService | None = None,
) -> FastAPI:
    """The app over a store, a key store (None: authentication is off) and the Login
    Service's tables (None: no login routes) opened by the caller, who also closes them
    (service.py): the app opens and closes none of them. With ``configs`` (on the
    store's database) it also writes and answers the accounts' configuration (skills,
    users, agent groups)."""
    ingestor = Ingestor(store, clock, Limits(settings.max_batch_events, settings.max_batch_bytes))
    app = FastAPI(
        title="engactivity",
        version=__version__,
        description=(
            "A self-hosted implementation of the Operational Realtime API "
            "(engagement activity), with an ingestion endpoint for engagement events."
        ),
        lifespan=_demo_traffic(ingestor, configs) if settings.demo else None,
        # The service's metrics are its own (/metrics); FastAPI's OpenTelemetry hooks
        # would only look for providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.store = store
    install_error_handlers(app)
    describe_security(app)
    _install_routes(app, settings, store, ingestor, clock, methods)
    if configs is not None:
        install_configuration(app, configs, clock, settings.max_batch_bytes)
    if logins is not None:
        LoginRoutes(logins, settings.advertised_host).install(app)
    _queries_first(app)
    # Every route is added: compiled once, and a route that declares no access stops
    # the start here (UndeclaredRoute).
    table = RouteTable(app.routes)
    # Innermost first: authentication (which may read a form body) inside the shutdown
    # guard, inside the header limit, the request log and the request metrics, so
    # refusals are logged and counted.
    install_auth(app, settings, keys, table, logins)
    app.add_middleware(ShutdownGuard)
    app.add_middleware(HeaderLimitMiddleware)
    app.add_middleware(RequestLogMiddleware)
    app.add_middleware(MetricsMiddleware)
    return app


def _install_routes(
    app: FastAPI,
    settings: Settings,
    store: Store,
    ingestor: Ingestor,
    clock: Clock,
    methods: tuple[AnyMethod, ...],
) -> None:
    """Every route, each declaring what it needs (auth/access.py); the order is the
    router's and the description's."""
    install_wallboard(app)
    install_metrics_route(app, store)
    answers = Answers(store, settings.answer_cache_bytes)
    limiter = ConcurrencyLimiter(settings.max_concurrent_per_account)
    hub = Hub(answers, limiter, clock, settings.push_period_ms)
    hub.listen_to(store)
    streams = Streams(
        hub, settings.push_heartbeat_s, settings.push_send_timeout_s, settings.max_streams
    )
    routes = MethodRoutes(answers, limiter, streams, clock, settings.metrics_account_labels)
    for method in methods:
        routes.install(app, method)
    install_ingestion(app, ingestor)
    install_discovery(app, settings.advertised_host)
    install_health(app, store)


def _queries_first(app: FastAPI) -> None:
    """The router tries the routes in turn, a regular expression each: the methods'
    routes, which wallboards ask many times a second, are tried first (no other route's
    path begins like theirs, so no request goes elsewhere than before)."""
    app.router.routes.sort(key=lambda route: not _is_query(route))


def _is_query(route: BaseRoute) -> bool:
    return isinstance(route, Route) and route.path.startswith(QUERY_PREFIX)


def _demo_traffic(
    ingestor: Ingestor, configs: ConfigStore | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's lifespan with ``--demo``: the demo account's configuration, then
    simulated traffic while it serves."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from engactivity.simulate import start_demo

        if configs is not None:
            _demo_configuration(configs, ingestor.clock)
        demo = start_demo(ingestor)
        try:
            yield
        finally:
            demo.stop()

    return lifespan


def _demo_configuration(configs: ConfigStore, clock: Clock) -> None:
    """The demo account's skills, agents and groups (a start after the first changes
    nothing: the document is the same)."""
    import orjson

    from engactivity.accountconfig.document import parse_document
    from engactivity.simulate import DEMO_CONFIG
    from engactivity.simulate.names import account_configuration

    document = parse_document(orjson.dumps(account_configuration(DEMO_CONFIG)))
    try:
        applied = configs.apply(DEMO_CONFIG.account, document, clock())
    except StoreUnavailable:
        log.exception("demo: the configuration could not be written; ids stay unnamed")
        return
    log.info(
        "demo: configuration of account %r at revision %d", DEMO_CONFIG.account, applied.revision
    )
