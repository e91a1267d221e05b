"""A stream's mailbox (pushhub.Subscriber): a slow reader gets the newest answer, never
a backlog."""

from __future__ import annotations

import asyncio

from engactivity.api.pushhub import Subscriber


def test_a_slow_subscriber_gets_the_newest_answer_not_a_backlog() -> None:
    async def main() -> list[bytes | None]:
        subscriber = Subscriber()
        for n in range(50):  # fifty answers while the reader was busy elsewhere
            subscriber.offer(b"answer %d" % n)
        read = [await subscriber.next()]
        # Nothing was kept besides the newest: the next read waits for a new answer.
        waiting = asyncio.create_task(subscriber.next())
        await asyncio.sleep(0.05)
        assert not waiting.done()
        subscriber.offer(b"answer 50")
        subscriber.offer(b"answer 51")
        read.append(await waiting)
        subscriber.close()
        read.append(await subscriber.next())
        return read

    assert asyncio.run(main()) == [b"answer 49", b"answer 51", None]


def test_a_closed_subscriber_ends_even_with_an_answer_pending() -> None:
    async def main() -> bytes | None:
        subscriber = Subscriber()
        subscriber.offer(b"answer")
        subscriber.close()
        return await subscriber.next()

    assert asyncio.run(main()) is None
