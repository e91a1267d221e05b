"""Making keys the real way in tests: ``engactivity keys ...`` as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from requests_oauthlib import OAuth1


def keys_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engactivity", "keys", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def create_key(
    store_url: str, account: str, scope: str = "read", kind: str = "oauth1"
) -> dict[str, Any]:
    done = keys_cli(
        "create", "--account", account, "--scope", scope, "--kind", kind, "--store", store_url
    )
    assert done.returncode == 0, done.stderr
    made: dict[str, Any] = json.loads(done.stdout)
    return made


def revoke_key(store_url: str, key_id: str) -> None:
    done = keys_cli("revoke", key_id, "--store", store_url)
    assert done.returncode == 0, done.stderr


def oauth1(
    key: dict[str, Any],
    method: str = "HMAC-SHA1",
    signature_type: str = "auth_header",
    **kwargs: Any,
) -> OAuth1:
    """The reference's Python sample, as its users write it (the signature in the
    header, or with ``signature_type`` "query" or "body")."""
    return OAuth1(
        key["appKey"],
        client_secret=key["secret"],
        resource_owner_key=key["accessToken"],
        resource_owner_secret=key["accessTokenSecret"],
        signature_method=method,
        signature_type=signature_type,
        **kwargs,
    )


def bearer(key: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {key['token']}"}
