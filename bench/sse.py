"""The events of a Server-Sent Events stream, read from its bytes as they arrive.

The live benchmark's subscribers read about 250 MB of answers a second (Q5's and AA1's
are 20 MB each, and change every second) on the two cores the server uses too. With
httpx and httpx-sse, which the tests use, a wallboard process spent about 90 ms per
20 MB event (decoding every network chunk to text and splitting it into lines in
Python), so the wallboards fell behind and measured themselves. Read with aiohttp and
this, it spends about 27 ms, most of it reading the marker: a line is joined from its
pieces once, when it ends, and only when its data is wanted (``keep_data``).

What is read is the standard's event framing (the HTML Living Standard, "Parsing an
event stream"): lines end with LF or CRLF (a bare CR, which our server never sends, is
not taken as a line end), a blank line ends an event, lines starting with a colon are
comments, a field's value is what follows the colon (one space after it dropped),
several ``data`` lines are joined with LF. Only ``event`` and ``data`` are kept; an
event without data is not dispatched, as the standard says.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Event:
    event: str
    """The event's type (``message`` when the stream names none)."""
    data: str


@dataclass(slots=True)
class EventReader:
    """Feed it the stream's chunks; it returns the events each one completed. Without
    ``keep_data`` an event's data is left unread (``""``): the events are only counted,
    and a line is never joined from its pieces."""

    keep_data: bool = True
    _pieces: list[bytes] = field(default_factory=list)
    """The pieces of the line not yet ended (one per chunk it spans)."""
    _event: bytes = b""
    _data: list[bytes] = field(default_factory=list)
    _has_data: bool = False

    def feed(self, chunk: bytes) -> list[Event]:
        events: list[Event] = []
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            self._pieces.append(chunk[start:end])
            start = end + 1
            event = self._line(self._pieces)
            self._pieces = []
            if event is not None:
                events.append(event)
        if start < len(chunk):
            self._pieces.append(chunk[start:])
        return events

    def _line(self, pieces: list[bytes]) -> Event | None:
        pieces = [piece for piece in pieces if piece]
        if pieces and pieces[-1].endswith(b"\r"):
            pieces[-1] = pieces[-1][:-1]
        if not any(pieces):
            return self._dispatch()
        if b":" not in pieces[0]:  # the field's name spans pieces (or has no value)
            pieces = [b"".join(pieces)]
        name, _, value = pieces[0].partition(b":")  # copies the first piece only
        if name == b"data":
            self._has_data = True
            if self.keep_data:
                self._data.append(_value([value, *pieces[1:]]))
        elif name == b"event":
            self._event = _value([value, *pieces[1:]])
        return None

    def _dispatch(self) -> Event | None:
        data, kind, has_data = self._data, self._event, self._has_data
        self._data, self._event, self._has_data = [], b"", False
        if not has_data:
            return None
        return Event(kind.decode() or "message", b"\n".join(data).decode())


def _value(pieces: list[bytes]) -> bytes:
    """A field's value from its pieces after the colon, the one space after it dropped."""
    pieces = [piece for piece in pieces if piece]
    if pieces and pieces[0].startswith(b" "):
        pieces[0] = pieces[0][1:]
    return b"".join(pieces)
