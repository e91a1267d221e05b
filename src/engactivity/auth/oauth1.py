"""OAuth 1.0a request verification (RFC 5849), done by oauthlib.

oauthlib rebuilds the signature base string from the method, the URL, the query and
(for ``application/x-www-form-urlencoded`` bodies) the form parameters, checks the
timestamp window and compares signatures in constant time. This module supplies what
it asks of a server: the key's secrets, read from the key store and unsealed.

The nonce is claimed only after the signature is good, atomically: a forged request
cannot burn a nonce, and of two identical requests racing, one is refused.
"""

from __future__ import annotations

import hmac
import logging
import time
from dataclasses import dataclass

from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256, RequestValidator
from oauthlib.oauth1.rfc5849.endpoints.resource import ResourceEndpoint

from engactivity.auth.keys import KeyRecord, OAuth1Secrets
from engactivity.auth.keystore import NONCE_WINDOW_S, KeyStore, KeyStoreUnavailable
from engactivity.auth.secretbox import SecretBox

log = logging.getLogger(__name__)

_ID_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
# Clients make nonces their own way (digits, hex, base64, UUIDs): any of these.
_NONCE_CHARS = _ID_CHARS | frozenset("-._~+/=")
_DUMMY_ID = "0" * 32
_DUMMY_SECRET = "0" * 32


@dataclass(frozen=True)
class Outcome:
    record: KeyRecord | None
    reason: str
    """Why it was refused (for the log only), or "ok"."""


class _Validator(RequestValidator):
    """One request's view of the key store (oauthlib calls it several times)."""

    def __init__(self, keys: KeyStore, box: SecretBox | None) -> None:
        super().__init__()
        self.keys = keys
        self.box = box
        self.record: KeyRecord | None = None
        self.secrets: OAuth1Secrets | None = None
        self.reason = ""

    # -- formats and policy (properties in oauthlib) ---------------------------------
    @property
    def allowed_signature_methods(self) -> tuple[str, ...]:
        return (SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256)

    @property
    def enforce_ssl(self) -> bool:
        # Plain HTTP is served too (loopback, or TLS ended by a proxy in front; see
        # docs/security.md); the signature covers the scheme the client used, so a
        # request replayed over the other scheme still fails.
        return False

    @property
    def timestamp_lifetime(self) -> int:
        return NONCE_WINDOW_S

    @property
    def dummy_client(self) -> str:
        return _DUMMY_ID

    @property
    def dummy_access_token(self) -> str:
        return _DUMMY_ID

    def check_client_key(self, client_key: str) -> bool:
        return 16 <= len(client_key) <= 64 and set(client_key) <= _ID_CHARS

    def check_access_token(self, request_token: str) -> bool:
        return 16 <= len(request_token) <= 64 and set(request_token) <= _ID_CHARS

    def check_nonce(self, nonce: str) -> bool:
        return 8 <= len(nonce) <= 128 and set(nonce) <= _NONCE_CHARS

    # -- lookups ----------------------------------------------------------------------
    def validate_timestamp_and_nonce(self, *args: object, **kwargs: object) -> bool:
        return True  # the nonce is claimed after the signature checks out

    def validate_client_key(self, client_key: str, request: object) -> bool:
        record = self.keys.get(client_key)
        if record is None or record.kind != "oauth1":
            self.reason = "unknown key"
            return False
        if not record.active:
            self.reason = "revoked key"
            return False
        if self.box is None or record.sealed_secrets is None:
            self.reason = "no master key to open the key's secrets"
            return False
        plain = self.box.open(record.sealed_secrets, record.key_id)
        if plain is None:
            self.reason = "the key's secrets do not open with this master key"
            return False
        self.record = record
        self.secrets = OAuth1Secrets.decode(plain)
        return True

    def validate_access_token(self, client_key: str, token: str, request: object) -> bool:
        if self.record is None or self.record.access_token is None:
            return False
        if not hmac.compare_digest(self.record.access_token.encode(), token.encode()):
            self.reason = "access token"
            return False
        return True

    def validate_realms(self, *args: object, **kwargs: object) -> bool:
        return True

    def get_client_secret(self, client_key: str, request: object) -> str:
        return self.secrets.app_secret if self.secrets else _DUMMY_SECRET

    def get_access_token_secret(self, client_key: str, token: str, request: object) -> str:
        return self.secrets.token_secret if self.secrets else _DUMMY_SECRET


def verify_oauth1(
    keys: KeyStore,
    box: SecretBox | None,
    uri: str,
    method: str,
    body: str | None,
    headers: dict[str, str],
) -> Outcome:
    """Check one signed request. ``uri`` is the URL as the client addressed it."""
    validator = _Validator(keys, box)
    try:
        valid, request = ResourceEndpoint(validator).validate_protected_resource_request(
            uri, http_method=method, body=body, headers=headers
        )
    except KeyStoreUnavailable:
        raise  # the key could not be looked up: not the client's fault (503, not 401)
    except Exception:  # malformed input oauthlib did not anticipate: refuse it
        log.debug("OAuth 1.0a request could not be parsed", exc_info=True)
        return Outcome(None, "malformed")
    if request is None:
        return Outcome(None, "malformed")
    if not valid:
        # oauthlib refuses before asking for the key when the request is malformed or
        # the timestamp is outside the window.
        if validator.reason:
            return Outcome(None, validator.reason)
        if validator.record is not None:
            return Outcome(None, "bad signature")
        return Outcome(None, _early_reason(request))
    record = validator.record
    assert record is not None
    if not keys.claim_nonce(record.key_id, request.nonce, int(request.timestamp), int(time.time())):
        return Outcome(None, "replayed nonce")
    return Outcome(record, "ok")


def _early_reason(request: object) -> str:
    timestamp = getattr(request, "timestamp", None)
    try:
        if timestamp and abs(time.time() - int(timestamp)) > NONCE_WINDOW_S:
            return "timestamp outside the window"
    except ValueError:
        pass
    return "malformed or bad signature"
