"""The one way events come in (engactivity.ingest), used directly on a real store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from engactivity.clock import fixed_clock
from engactivity.ingest import BatchRejected, BatchTooLarge, Ingestor, Limits, is_ndjson
from engactivity.methods import tables_of
from engactivity.store import IngestResult, open_store
from tests.conftest import MIN, NOW_MS


def raw(n: int, **over: object) -> dict[str, object]:
    event: dict[str, object] = {
        "eventId": f"e{n}",
        "type": "connected",
        "time": NOW_MS - MIN,
        "agentId": n,
    }
    event.update(over)
    return event


@pytest.fixture
def ingestor(tmp_path: Path) -> Iterator[Ingestor]:
    clock = fixed_clock(NOW_MS)
    store = open_store(f"sqlite:///{tmp_path / 's.db'}", clock, tables_of())
    yield Ingestor(store, clock, Limits(max_events=5, max_bytes=2000))
    store.close()


def test_a_batch_is_stored_and_acknowledged(ingestor: Ingestor) -> None:
    body = orjson.dumps([raw(1), raw(2), raw(1)])
    accepted = ingestor.accept("acct", body)
    assert [e.event_id for e in accepted.events] == ["e1", "e2", "e1"]
    assert accepted.stored.result(timeout=30) == IngestResult(2, 1, 0)


def test_ndjson_and_iso_times_take_the_full_path(ingestor: Ingestor) -> None:
    lines = [raw(1, time="2026-11-24T13:28:00Z"), raw(2, extra="ignored")]
    body = b"\n".join(orjson.dumps(e) for e in lines) + b"\n\n"
    accepted = ingestor.accept("acct", body, ndjson=True)
    assert accepted.stored.result(timeout=30) == IngestResult(2, 0, 0)
    assert accepted.events[0].time == NOW_MS - MIN


def test_limits_refuse_before_validating(ingestor: Ingestor) -> None:
    with pytest.raises(BatchTooLarge):
        ingestor.accept("acct", orjson.dumps([raw(i) for i in range(6)]))
    with pytest.raises(BatchTooLarge):  # invalid events too: the size decides first
        ingestor.accept("acct", orjson.dumps([{"x": i} for i in range(6)]))
    with pytest.raises(BatchTooLarge):
        ingestor.accept("acct", orjson.dumps([raw(1, pad="x" * 2000)]))
    assert "5 events and 2000 bytes" in ingestor.limits.describe()


def test_every_problem_is_listed_in_order_and_nothing_stored(ingestor: Ingestor) -> None:
    body = orjson.dumps([raw(1), raw(2, agentId=None), raw(3, time="x", type="other")])
    with pytest.raises(BatchRejected) as caught:
        ingestor.accept("acct", body)
    rejected = caught.value
    assert rejected.events == 3
    assert [(p.index, p.field) for p in rejected.problems] == [
        (1, "agentId"),
        (2, "type"),
        (2, "time"),
    ]
    assert ingestor.accept("acct", orjson.dumps([raw(1)])).stored.result(timeout=30) == (
        IngestResult(1, 0, 0)
    )


def test_a_body_that_is_not_json_is_one_problem(ingestor: Ingestor) -> None:
    with pytest.raises(BatchRejected) as caught:
        ingestor.accept("acct", b"[{")
    assert [p.field for p in caught.value.problems] == ["body"]


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("application/json", b"{}", False),
        ("application/x-ndjson; charset=utf-8", b"[]", True),
        ("application/jsonl", b"{}", True),
        ("", b"  [{}]", False),
        ("", b"{}\n{}", True),
        ("text/plain", b"[]", False),
    ],
)
def test_what_is_ndjson(content_type: str, body: bytes, expected: bool) -> None:
    assert is_ndjson(content_type, body) is expected
