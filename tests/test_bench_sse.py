"""bench/sse.py reads back what sse-starlette (the server's encoder) writes, however the
bytes are cut into chunks."""

from __future__ import annotations

import re

from bench.sse import Event, EventReader
from hypothesis import given, settings
from hypothesis import strategies as st
from sse_starlette import ServerSentEvent

_events = st.lists(
    st.tuples(
        st.sampled_from([None, "answer", "end", "x y"]),
        st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40),
        st.one_of(st.none(), st.integers(0, 10**9).map(str)),
        st.booleans(),  # a heartbeat comment before it
    ),
    max_size=8,
)


@settings(max_examples=400)
@given(
    _events,
    st.sampled_from(["\n", "\r\n"]),
    st.lists(st.integers(0, 10**6), max_size=12),
    st.booleans(),
)
def test_the_events_encoded_are_the_events_read(
    events: list[tuple[str | None, str, str | None, bool]],
    sep: str,
    cuts: list[int],
    keep_data: bool,
) -> None:
    stream = b""
    expected = []
    for name, data, event_id, ping in events:
        if ping:
            stream += ServerSentEvent(comment="ping", sep=sep).encode()
        stream += ServerSentEvent(data, event=name, id=event_id, sep=sep).encode()
        # The encoder writes each line of the data as its own data line.
        text = re.sub(r"\r\n|\r", "\n", data) if keep_data else ""
        expected.append(Event(name or "message", text))
    points = sorted({cut % (len(stream) + 1) for cut in cuts})
    reader, read = EventReader(keep_data), []
    for lo, hi in zip([0, *points], [*points, len(stream)], strict=True):
        read += reader.feed(stream[lo:hi])
    assert read == expected


def test_an_event_without_data_is_not_dispatched() -> None:
    assert EventReader().feed(b"event: answer\n\n: comment\nid: 3\n\ndata\n\n") == [
        Event("message", "")
    ]


def test_a_long_line_arriving_in_pieces_is_read_once_whole() -> None:
    reader, body = EventReader(), b"x" * 1_000_000
    message = b"event: answer\ndata: " + body + b"\n\n"
    pieces = [message[i : i + 65_536] for i in range(0, len(message), 65_536)]
    read = [event for piece in pieces for event in reader.feed(piece)]
    assert read == [Event("answer", body.decode())]
