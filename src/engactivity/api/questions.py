"""Parsed questions, kept under their raw text: a poller asks the same one again and again.

A wallboard repeats one URL (or one POST body) every few seconds. Reading its
parameters again each time costs tens of microseconds (a list of 500 agents, about a
tenth of a millisecond), and a new query object makes every cache lookup after it
compare the query field by field. So the parsed query is kept under the request's raw
query string, body and content type, and the same object is handed out again: the
lookups then find it by identity. Only small requests are kept, and a question that
does not parse is not (its 400 is made again). Used on the event loop only.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from engactivity.methods.method import AnyMethod

KEPT = 4096
"""Questions kept, least recently asked forgotten first."""
MAX_RAW_BYTES = 16 * 1024
"""Larger requests are parsed each time (at most ``KEPT`` times this is kept)."""

Raw = tuple[bytes, bytes, str]
"""A request's query string, body and content type."""


class Questions:
    """The parsed queries of the questions asked lately, by method and raw text."""

    def __init__(self, kept: int = KEPT) -> None:
        self._kept_at_most = kept
        self._kept: OrderedDict[tuple[str, Raw], object] = OrderedDict()

    def parsed(
        self, method: AnyMethod, raw: Raw, params: Callable[[], dict[str, object]]
    ) -> object:
        """The query of ``raw``: kept, or ``method.parse(params())`` (which may raise
        InvalidRequest: nothing is kept then)."""
        key = (method.name, raw)
        query = self._kept.get(key)
        if query is not None:
            self._kept.move_to_end(key)
            return query
        query = method.parse(params())
        if len(raw[0]) + len(raw[1]) <= MAX_RAW_BYTES:
            self._kept[key] = query
            if len(self._kept) > self._kept_at_most:
                self._kept.popitem(last=False)
        return query
