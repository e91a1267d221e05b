"""Identical concurrent questions share one computation."""

from __future__ import annotations

import asyncio

import pytest

from engactivity.api.cache import SingleFlight


def test_concurrent_callers_share_one_computation() -> None:
    calls = 0

    async def compute() -> bytes:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return b"answer"

    async def main() -> list[bytes]:
        flights = SingleFlight()
        return await asyncio.gather(*(flights.run("k", compute) for _ in range(20)))

    assert asyncio.run(main()) == [b"answer"] * 20
    assert calls == 1


def test_different_keys_compute_separately_and_later_calls_compute_again() -> None:
    calls: list[str] = []

    def maker(key: str):  # type: ignore[no-untyped-def]
        async def compute() -> bytes:
            calls.append(key)
            await asyncio.sleep(0.01)
            return key.encode()

        return compute

    async def main() -> None:
        flights = SingleFlight()
        assert await asyncio.gather(flights.run("a", maker("a")), flights.run("b", maker("b"))) == [
            b"a",
            b"b",
        ]
        assert await flights.run("a", maker("a")) == b"a"

    asyncio.run(main())
    assert sorted(calls) == ["a", "a", "b"]


def test_an_error_reaches_every_waiter() -> None:
    async def broken() -> bytes:
        await asyncio.sleep(0.01)
        raise RuntimeError("store down")

    async def main() -> list[object]:
        flights = SingleFlight()
        return await asyncio.gather(
            *(flights.run("k", broken) for _ in range(3)), return_exceptions=True
        )

    results = asyncio.run(main())
    assert all(isinstance(r, RuntimeError) for r in results)


def test_followers_take_over_when_the_leader_is_cancelled() -> None:
    async def slow() -> bytes:
        await asyncio.sleep(0.05)
        return b"done"

    async def main() -> bytes:
        flights = SingleFlight()
        leader = asyncio.create_task(flights.run("k", slow))
        await asyncio.sleep(0)
        follower = asyncio.create_task(flights.run("k", slow))
        await asyncio.sleep(0.01)
        leader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leader
        return await follower

    assert asyncio.run(main()) == b"done"
