"""Buckets, spans and intervals (SEMANTICS.md sections 2 to 4) against the reference's examples
and against the independent model in tests/oracle.py."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engactivity.core.timeframe import (
    BUCKET_MS,
    MINUTE_MS,
    Span,
    bucket_of,
    ceil_to_bucket,
    span_for,
)
from tests import oracle


def timestamps(span: Span) -> list[int]:
    return [span.interval_end(k) for k in range(span.interval_count)]


B = BUCKET_MS
MIN = MINUTE_MS


def at(hh: int, mm: int, ss: int = 0, day: int = 24) -> int:
    """Epoch ms of 2026-11-<day> hh:mm:ss UTC."""
    return int(datetime(2026, 11, day, hh, mm, ss, tzinfo=UTC).timestamp() * 1000)


def buckets_of(span: Span) -> range:
    return range(span.first, span.last + 1)


def interval_ranges(span: Span) -> list[tuple[int, int]]:
    """(first bucket start, end) of each interval, newest first, from Span.interval_of."""
    groups: dict[int, list[int]] = {}
    for bucket in buckets_of(span):
        groups.setdefault(span.interval_of(bucket), []).append(bucket)
    return [(min(groups[k]) * B, (max(groups[k]) + 1) * B) for k in sorted(groups)]


# -- unit --------------------------------------------------------------------------------


def test_bucket_of_edges() -> None:
    assert bucket_of(0) == 0
    assert bucket_of(B - 1) == 0
    assert bucket_of(B) == 1
    assert bucket_of(-1) == -1
    assert bucket_of(at(13, 25)) * B == at(13, 25)
    assert bucket_of(at(13, 29, 59) + 999) * B == at(13, 25)


def test_ceil_to_bucket() -> None:
    assert ceil_to_bucket(0) == 0
    assert ceil_to_bucket(1) == B
    assert ceil_to_bucket(B) == B
    assert ceil_to_bucket(-1) == 0
    assert ceil_to_bucket(-B - 1) == -B
    assert ceil_to_bucket(at(8, 3)) == at(8, 5)


# -- the reference's worked examples ------------------------------------------------------


def test_now_1329_timeframe_7_uses_two_buckets() -> None:
    span = span_for(at(13, 29), 7)
    assert span.first * B == at(13, 20)
    assert span.last * B == at(13, 25)
    assert span.end_ms == at(13, 30)
    assert len(buckets_of(span)) == 2
    assert timestamps(span) == [at(13, 30)]


def test_now_0807_timeframe_20_covers_0745_to_0810() -> None:
    span = span_for(at(8, 7), 20)
    assert span.first * B == at(7, 45)
    assert span.end_ms == at(8, 10)


def test_now_0807_timeframe_20_interval_10() -> None:
    span = span_for(at(8, 7), 20, 10)
    assert span.interval_count == 3
    assert timestamps(span) == [at(8, 10), at(8, 0), at(7, 50)]
    assert interval_ranges(span) == [
        (at(8, 0), at(8, 10)),
        (at(7, 50), at(8, 0)),
        (at(7, 45), at(7, 50)),  # the earliest holds only the remainder
    ]
    assert span.interval_of(bucket_of(at(7, 45))) == 2
    assert span.interval_of(bucket_of(at(7, 50))) == 1
    assert span.interval_of(bucket_of(at(7, 55))) == 1
    assert span.interval_of(bucket_of(at(8, 0))) == 0
    assert span.interval_of(bucket_of(at(8, 5))) == 0


def test_timeframe_1200_interval_600_at_1117() -> None:
    span = span_for(at(11, 17), 1200, 600)
    assert timestamps(span) == [at(11, 20), at(1, 20), at(15, 20, day=23)]
    assert span.first * B == at(15, 15, day=23)
    assert interval_ranges(span)[-1] == (at(15, 15, day=23), at(15, 20, day=23))


def test_reference_json_example_timestamps() -> None:
    # The reference's timeframe=1200&interval=600 answers, asked at 2014-10-07 11:17 UTC.
    span = span_for(1412680800000 - 3 * MIN, 1200, 600)
    assert timestamps(span) == [1412680800000, 1412644800000, 1412608800000]


def test_interval_not_a_multiple_of_five() -> None:
    # now 13:29, T=14, I=7: F = floor(13:15 / B) = 13:15, E0 = 13:30,
    # E1 = ceilB(13:23) = 13:25, E2 = ceilB(13:16) = 13:20, E3 = ceilB(13:09) = 13:10 <= 13:15.
    span = span_for(at(13, 29), 14, 7)
    assert timestamps(span) == [at(13, 30), at(13, 25), at(13, 20)]
    assert interval_ranges(span) == [
        (at(13, 25), at(13, 30)),
        (at(13, 20), at(13, 25)),
        (at(13, 15), at(13, 20)),
    ]


def test_now_on_a_bucket_edge() -> None:
    span = span_for(at(13, 30), 5)
    # now - T = 13:25 exactly: F is the bucket 13:25, L is the bucket 13:30.
    assert span.first * B == at(13, 25)
    assert span.last * B == at(13, 30)
    assert span.end_ms == at(13, 35)
    span = span_for(at(13, 30) - 1, 5)
    assert span.first * B == at(13, 20)
    assert span.last * B == at(13, 25)


def test_whole_day_interval() -> None:
    span = span_for(at(13, 29), 1440, 1440)
    # E1 = 13:30 the day before is still after F*B = 13:25 the day before.
    assert timestamps(span) == [at(13, 30), at(13, 30, day=23)]
    assert interval_ranges(span) == [
        (at(13, 30, day=23), at(13, 30)),
        (at(13, 25, day=23), at(13, 30, day=23)),
    ]


def test_no_interval_is_one_interval() -> None:
    span = span_for(at(13, 29), 60)
    assert span.interval_ms is None
    assert span.interval_count == 1
    assert timestamps(span) == [at(13, 30)]
    assert {span.interval_of(b) for b in buckets_of(span)} == {0}


# -- properties ----------------------------------------------------------------------------


def _divisors(t: int) -> list[int | None]:
    found: list[int | None] = [d for d in range(5, t + 1) if t % d == 0]
    return found or [None]


timeframe_and_interval = st.integers(1, 1440).flatmap(
    lambda t: st.tuples(st.just(t), st.sampled_from(_divisors(t)))
)
now_ms = (
    st.integers(0, 2**42)
    | st.integers(0, 2**34).map(lambda n: n * B)
    | st.integers(1, 2**34).map(lambda n: n * B - 1)
)


@settings(max_examples=300, deadline=None)
@given(now=now_ms, ti=timeframe_and_interval)
def test_span_is_whole_buckets_around_now(now: int, ti: tuple[int, int | None]) -> None:
    timeframe, interval = ti
    span = span_for(now, timeframe, interval)
    assert span.last * B <= now < (span.last + 1) * B
    start = now - timeframe * MIN
    assert span.first * B <= start < (span.first + 1) * B
    assert span.end_ms == (span.last + 1) * B


@settings(max_examples=300, deadline=None)
@given(now=now_ms, ti=timeframe_and_interval)
def test_intervals_partition_the_span(now: int, ti: tuple[int, int | None]) -> None:
    timeframe, interval = ti
    span = span_for(now, timeframe, interval)
    count = span.interval_count
    # every bucket of the span is in exactly one interval, with an index in range
    seen = [span.interval_of(b) for b in buckets_of(span)]
    assert set(seen) == set(range(count))
    # newest first: the interval index never grows as buckets get newer
    assert seen == sorted(seen, reverse=True)
    ranges = interval_ranges(span)
    # contiguous, newest first, the last ends at E0 and the earliest starts at F*B
    assert ranges[0][1] == span.end_ms
    assert ranges[-1][0] == span.first * B
    for newer, older in itertools.pairwise(ranges):
        assert older[1] == newer[0]
    # the timestamps are the interval ends
    assert timestamps(span) == [end for _, end in ranges]
    if interval is not None and interval % 5 == 0:
        lengths = [end - start for start, end in ranges]
        assert all(length == interval * MIN for length in lengths[:-1])
        assert 0 < lengths[-1] <= interval * MIN


@settings(max_examples=300, deadline=None)
@given(now=now_ms, ti=timeframe_and_interval)
def test_intervals_match_the_ek_rule(now: int, ti: tuple[int, int | None]) -> None:
    timeframe, interval = ti
    span = span_for(now, timeframe, interval)
    expected = oracle.intervals(now, timeframe, interval)
    assert timestamps(span) == [iv.timestamp for iv in expected]
    assert span.interval_count == len(expected)
    if interval is not None:
        e0 = span.end_ms
        lower = span.first * B
        # Ek = ceilB(E0 - k*I*min), produced while Ek > F*B
        count = 0
        while oracle.ceil_b(e0 - count * interval * MIN) > lower:
            count += 1
        assert span.interval_count == count
        for k, ts in enumerate(timestamps(span)):
            assert ts == -(-(e0 - k * interval * MIN) // B) * B
            if interval % 5 == 0:
                assert ts == e0 - k * interval * MIN
    for bucket in buckets_of(span):
        holders = [k for k, iv in enumerate(expected) if iv.holds(bucket * B)]
        assert holders == [span.interval_of(bucket)]


@pytest.mark.parametrize(
    ("timeframe", "interval"), [(14, 7), (21, 7), (77, 11), (1440, 9), (1386, 6), (1309, 17)]
)
@settings(max_examples=60, deadline=None)
@given(now=now_ms)
def test_intervals_not_multiple_of_five(now: int, timeframe: int, interval: int) -> None:
    span = span_for(now, timeframe, interval)
    expected = oracle.intervals(now, timeframe, interval)
    assert timestamps(span) == [iv.timestamp for iv in expected]
    for bucket in buckets_of(span):
        holders = [k for k, iv in enumerate(expected) if iv.holds(bucket * B)]
        assert holders == [span.interval_of(bucket)]
