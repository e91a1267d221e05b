"""``serve --demo`` at start: fresh read keys for account 'demo', with examples to paste.

The demo traffic itself is simulate.py's ``start_demo``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from engactivity.auth.issuing import create_key
from engactivity.auth.keys import READ, NewKey
from engactivity.auth.keystore import KeyStore
from engactivity.auth.secretbox import MasterKeyError

DEMO_LABEL = "serve --demo"


def demo_keys(
    keys: KeyStore, store_url: str, master_key_file: Path | None, host: str, port: int
) -> None:
    """Make read keys for account 'demo' in ``keys`` and print them with examples.

    Keys a previous demo start made are revoked first, so they do not pile up.
    """
    now_ms = int(time.time() * 1000)
    for old in keys.list("demo"):
        if old.active and old.label == DEMO_LABEL:
            keys.revoke(old.key_id, now_ms)
    scopes = frozenset({READ})
    bearer = create_key(keys, store_url, "demo", scopes, "bearer", DEMO_LABEL, None)
    try:
        oauth = create_key(keys, store_url, "demo", scopes, "oauth1", DEMO_LABEL, master_key_file)
    except MasterKeyError:
        oauth = None
    sys.stderr.write("\n".join(_examples(bearer, oauth, host, port)) + "\n")
    sys.stderr.flush()


def _examples(bearer: NewKey, oauth: NewKey | None, host: str, port: int) -> list[str]:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    base = f"http://{shown}:{port}"
    url = (
        f"{base}/operations/api/account/demo/engactivity?timeframe=60&skillIds=all&interval=15&v=1"
    )
    lines = [
        "",
        "Read keys for account 'demo' (made for this run; earlier demo keys are revoked):",
        "",
        "  curl -H 'Authorization: Bearer " + str(bearer.credentials["token"]) + "' \\",
        f"    '{url}'",
        "",
    ]
    if oauth is not None:
        c = oauth.credentials
        lines += [
            "  python3 - <<'EOF'   # pip install requests requests-oauthlib",
            "  import requests",
            "  from requests_oauthlib import OAuth1",
            f"  auth = OAuth1({c['appKey']!r}, client_secret={c['secret']!r},",
            f"                resource_owner_key={c['accessToken']!r},",
            f"                resource_owner_secret={c['accessTokenSecret']!r},",
            "                signature_method='HMAC-SHA1', signature_type='auth_header')",
            f"  print(requests.get({url!r}, auth=auth).json())",
            "  EOF",
            "",
        ]
    lines += [
        f"  Wallboard: {base}/ (paste the bearer token into Key and press Show)",
        "",
    ]
    return lines
