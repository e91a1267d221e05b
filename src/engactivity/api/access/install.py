"""Wiring authentication into the app from the settings, with the start-up warnings."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

from fastapi import FastAPI

from engactivity.api.access.middleware import AuthMiddleware, WaiverMiddleware
from engactivity.api.access.table import RouteTable
from engactivity.auth.authenticator import Authenticator, any_credential
from engactivity.auth.keystore import KeyStore
from engactivity.auth.login import LoginService
from engactivity.auth.secretbox import MasterKey, MasterKeyError, default_key_file
from engactivity.settings import Settings

log = logging.getLogger("engactivity.auth")
# oauthlib logs every refused signature at INFO, one line per check; our own line
# (engactivity.auth) says why a request was refused, once.
logging.getLogger("oauthlib").setLevel(logging.WARNING)


def master_key_path(settings: Settings) -> Path | None:
    if settings.master_key_file:
        return Path(settings.master_key_file)
    return default_key_file(settings.store_url)


def install_auth(
    app: FastAPI,
    settings: Settings,
    keys: KeyStore | None,
    table: RouteTable,
    logins: LoginService | None = None,
) -> None:
    """Add the middleware checking keys in ``keys`` and the sessions of ``logins``
    (opened by the caller, who closes them) against the app's route table, unless
    authentication is off."""
    if not settings.auth:
        log.warning(
            "AUTHENTICATION IS OFF (--insecure-no-auth): anyone who reaches %s:%s can read "
            "and write every account. Use this for local experiments only.",
            settings.host,
            settings.port,
        )
        app.add_middleware(WaiverMiddleware)
        return
    if keys is None:
        raise ValueError("authentication is on: install_auth needs the key store")
    master = MasterKey(master_key_path(settings))
    try:
        box = master.box()
    except MasterKeyError as exc:
        log.error("%s: OAuth 1.0a keys will be refused (bearer keys work)", exc)
        box = None
    loopback = is_loopback_host(settings.host)
    exception = loopback and not any_credential(keys, logins)
    if exception:
        log.warning(
            "no API key or user exists yet and the server listens on loopback only, so "
            "requests without credentials are served as if authentication were off, until "
            "the first key or user is created: engactivity keys create --account ACCOUNT "
            "--scope read --store STORE_URL"
        )
    if box is None and any(k.kind == "oauth1" and k.active for k in keys.list()):
        log.warning(
            "OAuth 1.0a keys exist but no master key is configured (%s or --master-key-file):"
            " they will be refused",
            "ENGACTIVITY_MASTER_KEY",
        )
    auth = Authenticator(
        keys,
        master,
        localhost_exception=exception,
        metrics_open=loopback,
        metrics_token=settings.metrics_token or None,
        logins=logins,
    )
    app.add_middleware(AuthMiddleware, auth=auth, table=table)


def is_loopback_host(host: str) -> bool:
    """Whether binding ``host`` listens on loopback addresses only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
