"""Store URLs: passwords never printed, whatever the hosts part looks like."""

from __future__ import annotations

import pytest

from engactivity.store.url import mask_url, parse_store_url


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (
            "postgresql://ea:secret@db.internal:5432/engactivity",
            "postgresql://ea:***@db.internal:5432/engactivity",
        ),
        # libpq's multi-host form, as used for failover (docs/deploy.md)
        (
            "postgresql://ea:secret@10.0.0.1:5432,10.0.0.2:5432/ea?target_session_attrs=read-write",
            "postgresql://ea:***@10.0.0.1:5432,10.0.0.2:5432/ea?target_session_attrs=read-write",
        ),
        ("postgresql://ea:secret@[::1]:5432/ea", "postgresql://ea:***@[::1]:5432/ea"),
        ("postgresql://ea:p@ss@db/ea", "postgresql://ea:***@db/ea"),
        ("postgresql://ea@db/ea", "postgresql://ea@db/ea"),
        ("sqlite:///./data/engactivity.db", "sqlite:///./data/engactivity.db"),
    ],
)
def test_mask_url_hides_the_password_only(url: str, masked: str) -> None:
    assert mask_url(url) == masked
    assert str(parse_store_url(url)) == masked
