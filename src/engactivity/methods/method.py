"""What a method of the Operational Realtime API is: a declaration the rest is built from.

A method says, in one module:

- its name (the last segment of its path, and its label in /metrics) and summary;
- how its request parameters are parsed (``parse``: raises InvalidRequest, listing
  every problem) and described (OpenAPI);
- the bucket tables its events fold into (``tables``; each table says which events it
  takes and how);
- how a question becomes an answer: ``plan`` fixes what a query reads at a moment
  (e.g. the span of buckets), ``read`` takes what it needs from a snapshot of the
  account's state (under the snapshot's lock: keep it short), ``render`` makes the
  JSON body (outside the lock);
- its response shape (OpenAPI).

The HTTP layer builds the GET and POST routes, the 429 limit, the answer cache and the
metrics of every method registered in ``methods/__init__.py``; the store keeps the
tables of every registered method.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sized
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from engactivity.store.memory import AccountState
from engactivity.store.tables import Table

Q = TypeVar("Q", bound=Hashable)
"""A parsed query."""
P = TypeVar("P", bound=Hashable)
"""A plan: what a query reads at one moment."""
R = TypeVar("R")
"""What ``read`` took from the snapshot."""


Piece = TypeVar("Piece", bound=Sized)
"""A kept part: its ``len`` is what it costs the cache (characters, bytes)."""


class Fragments(Protocol):
    """Parts of earlier answers of the same account (rendered text, or measures an answer
    is made from), kept above the store.

    A part is valid for one stamp: a number that changes whenever anything the part
    was made from changes (e.g. the newest version among its buckets).
    """

    def get(self, part: Hashable, stamp: int, kind: type[Piece]) -> Piece | None: ...

    def put(self, part: Hashable, stamp: int, piece: Sized) -> None: ...


@dataclass(frozen=True)
class Method(Generic[Q, P, R]):
    name: str
    """The path's last segment (``/operations/api/account/{accountId}/<name>``)."""
    summary: str
    parse: Callable[[Mapping[str, object]], Q]
    plan: Callable[[Q, int], P]
    """The query at ``now`` (epoch ms): what it reads; part of the answer cache's key."""
    tables: tuple[Table, ...]
    read: Callable[[Q, P, AccountState, Fragments], R]
    render: Callable[[Q, P, R, Fragments], bytes]
    light: Callable[[Q], bool]
    """True when answering costs so little that it is done on the event loop."""
    parameters: list[dict[str, Any]]
    """OpenAPI: the GET query parameters."""
    body: dict[str, Any]
    """OpenAPI: the JSON schema of the POST body."""
    response: dict[str, Any]
    """OpenAPI: the JSON schema of the 200 body."""
    key: Callable[[Q, P], Hashable] | None = None
    """What of the plan fixes the answer, as the answer cache's key (default: the plan).
    A method whose answer also moves with the clock leaves the moment out of it, and
    says in ``valid_until`` until when an answer stays true without new data."""
    valid_until: Callable[[Q, P, R], int | None] | None = None
    """The moment (epoch ms) an answer read at ``plan`` stops being true even if no
    data changes (None: only new data ends it)."""


AnyMethod = Method[Any, Any, Any]


def query_parameter(name: str, description: str) -> dict[str, Any]:
    """An optional string query parameter, as OpenAPI describes one."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string"},
    }


# A null in a POST body is the same as leaving the parameter out (api/querybody.py).
NUMBER_OR_STRING: dict[str, Any] = {
    "oneOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]
}
ID_LIST: dict[str, Any] = {
    "oneOf": [
        {"type": "string", "description": "'all' or comma separated integers"},
        {"type": "integer", "format": "int64"},
        {"type": "array", "items": {"type": "integer", "format": "int64"}},
        {"type": "null"},
    ]
}
