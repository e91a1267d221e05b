"""Issuing a key: making its credentials, sealing its secrets, storing it."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from engactivity.auth.keys import NewKey, new_bearer, new_oauth1
from engactivity.auth.keystore import KeyStore
from engactivity.auth.secretbox import MasterKeyError, default_key_file, load_master_key


def create_key(
    keys: KeyStore,
    store_url: str,
    account: str,
    scopes: frozenset[str],
    kind: str,
    label: str | None,
    master_key_file: Path | None,
) -> NewKey:
    """Make a key, store it, and return the credentials (shown once)."""
    now_ms = int(time.time() * 1000)
    if kind == "bearer":
        made = new_bearer(account, scopes, now_ms, label)
        keys.add(made.record)
        return made
    path = master_key_file or default_key_file(store_url)
    box = load_master_key(path, create=True)
    if box is None:
        raise MasterKeyError(
            "OAuth 1.0a keys need a master key to seal their secrets: set "
            "ENGACTIVITY_MASTER_KEY or --master-key-file (the same for every server)"
        )
    record, secrets, shown = new_oauth1(account, scopes, now_ms, label)
    sealed = box.seal(secrets.encode(), record.key_id)
    keys.add(replace(record, sealed_secrets=sealed))
    return NewKey(replace(record, sealed_secrets=sealed), shown)
