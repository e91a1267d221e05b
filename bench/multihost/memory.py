"""What a host's ``/metrics`` says about its memory cap (docs/operations.md)."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

NAMES = {
    "engactivity_memory_accounts_resident": "accounts_resident",
    "engactivity_memory_account_loads_total": "loads",
    "engactivity_memory_account_evictions_total": "evictions",
    "engactivity_memory_in_use_bytes": "in_use_bytes",
    "engactivity_memory_limit_bytes": "limit_bytes",
}


def memory_metrics(url: str, token: str) -> dict[str, int]:
    """The memory figures of the process answering at ``url``."""
    headers = {"Authorization": f"Bearer {token}"}
    got = httpx.get(f"{url}/metrics", headers=headers, timeout=10, trust_env=False)
    text = got.raise_for_status().text
    out: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in NAMES:
                out[NAMES[sample.name]] = int(sample.value)
    return out
