"""A stream's mailbox (pushhub.Subscriber): a slow reader gets the newest answer, never
a backlog."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st
from sse_starlette import ServerSentEvent

from engactivity.api.answers import Answer
from engactivity.api.pushhub import SEPARATOR, Subscriber, encode_answer


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


_TEXT = st.text(max_size=60) | st.text(st.sampled_from('a{"é:\n\r'), max_size=60)


@settings(max_examples=300)
@given(_TEXT, st.integers(0, 2**63))
def test_an_answer_event_is_what_the_library_encodes(text: str, version: int) -> None:
    """The answer event is spliced from bytes for speed: byte for byte the library's
    encoding of the same event (line breaks in the body included)."""
    made = ServerSentEvent(text, event="answer", id=str(version), sep=SEPARATOR).encode()
    assert encode_answer(Answer(text.encode(), version, 0)) == made
