"""Where simulated and imported events go: the HTTP ingestion endpoint or a store.

A sink takes one batch of raw events (plain dicts in the wire format of EVENTS.md)
and answers what became of it. Both sinks keep the good events of a batch even when
some of its events are invalid: the invalid ones are reported as rejected, with the
index they had in the batch given to :meth:`Sink.send`, and the rest is stored.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import quote

import httpx
import orjson

from engactivity.clock import Clock
from engactivity.core.problems import Problem
from engactivity.ingest import BatchRejected, BatchTooLarge, Ingestor, Limits
from engactivity.methods import tables_of
from engactivity.store import StoreUnavailable, open_store

RawEvent = Mapping[str, object]
"""One event as producers send it (EVENTS.md)."""

RETRY_STATUSES = frozenset({429, 502, 503, 504})
"""Answers that mean "not now": the batch is sent again after a short wait."""


class SinkError(Exception):
    """The sink cannot take events at all (unreachable, refused, misconfigured)."""


@dataclass
class BatchResult:
    """What became of one batch."""

    accepted: int = 0
    duplicates: int = 0
    expired: int = 0
    problems: list[Problem] = field(default_factory=list)
    """Why events were rejected; ``index`` is the event's position in the batch sent."""

    @property
    def rejected_indexes(self) -> set[int]:
        return {p.index for p in self.problems if p.index is not None}

    @property
    def rejected(self) -> int:
        return len(self.rejected_indexes)


class Sink(Protocol):
    def send(self, events: Sequence[RawEvent]) -> BatchResult:
        """Deliver one batch; invalid events are reported, the others stored."""
        ...

    def close(self) -> None: ...


def _problems_from_body(response: httpx.Response) -> list[Problem]:
    try:
        body = response.json()
    except ValueError:
        body = None
    problems: list[Problem] = []
    if isinstance(body, dict) and isinstance(body.get("problems"), list):
        for item in body["problems"]:
            if not isinstance(item, dict):
                continue
            index = item.get("index")
            problems.append(
                Problem(
                    str(item.get("field", "event")),
                    str(item.get("message", "invalid")),
                    str(item.get("allowed", "")),
                    index if isinstance(index, int) else None,
                )
            )
    if not problems:
        message = body.get("message") if isinstance(body, dict) else None
        problems.append(Problem("body", str(message or response.text[:200]), "see the API docs"))
    return problems


def _retry_after(response: httpx.Response) -> float:
    try:
        seconds = float(response.headers.get("retry-after", "1"))
    except ValueError:
        seconds = 1.0
    return min(max(seconds, 0.2), 10.0)


TOKEN_ENV = "ENGACTIVITY_TOKEN"
"""Bearer token (a write key of the account) the HTTP sink sends, when set."""


class HttpSink:
    """POSTs batches as JSON arrays to ``{url}/api/v1/accounts/{account}/events``.

    429 and 503 (and network errors) are retried after the server's ``Retry-After``
    (about a second) for up to ``give_up_after_s`` (a server that never answered at
    all is given up on after a few seconds). A 400 names the bad events: they
    are reported as rejected and the rest of the batch is sent again. A 413 splits the
    batch in halves.
    """

    def __init__(
        self,
        url: str,
        account: str,
        *,
        timeout_s: float = 30.0,
        give_up_after_s: float = 60.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.account = account
        self.give_up_after_s = give_up_after_s
        self._path = f"/api/v1/accounts/{quote(account, safe='')}/events"
        # A write key for the account, from the environment rather than a flag, so
        # it does not show in process listings (docs/security.md).
        token = os.environ.get(TOKEN_ENV)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(base_url=self.url, timeout=timeout_s, headers=headers)
        self._reached = False
        """Whether the server ever answered; until then a network error fails fast."""

    def close(self) -> None:
        self._client.close()

    def _post(self, events: Sequence[RawEvent]) -> httpx.Response:
        body = orjson.dumps(list(events))
        deadline = time.monotonic() + self.give_up_after_s
        while True:
            wait = 1.0
            try:
                response = self._client.post(
                    self._path, content=body, headers={"Content-Type": "application/json"}
                )
            except httpx.TransportError as exc:
                failure = f"cannot reach {self.url}: {exc}"
                if not self._reached:
                    deadline = min(deadline, time.monotonic() + 3.0)
            else:
                self._reached = True
                if response.status_code not in RETRY_STATUSES:
                    return response
                failure = f"{self.url} answered {response.status_code}: {response.text[:200]}"
                wait = _retry_after(response)
            if time.monotonic() + wait > deadline:
                raise SinkError(failure)
            time.sleep(wait)

    def send(self, events: Sequence[RawEvent]) -> BatchResult:
        return deliver(self._try, events)

    def _try(self, events: list[RawEvent]) -> BatchResult | Refusal:
        response = self._post(events)
        status = response.status_code
        if status == 200:
            body = response.json()
            return BatchResult(
                int(body.get("accepted", 0)),
                int(body.get("duplicates", 0)),
                int(body.get("expired", 0)),
            )
        if status == 413 and len(events) > 1:
            return TOO_LARGE
        if status == 400:
            problems = _problems_from_body(response)
            if not any(p.index is not None and p.index < len(events) for p in problems):
                # Nothing points at one event: the batch as a whole was refused.
                raise SinkError(f"{self.url} refused the batch: {problems[0].message}")
            return problems
        hint = ""
        if status in (401, 403):
            hint = f" (set {TOKEN_ENV} to a write key of the account)"
        raise SinkError(f"{self.url} answered {status}{hint}: {response.text[:300]}")


class StoreSink:
    """Writes batches straight into a store, through the API's own ingestion (the same
    decoding, validation and limits)."""

    def __init__(self, ingestor: Ingestor, account: str, *, owned: bool = False) -> None:
        self.ingestor = ingestor
        self.account = account
        self._owned = owned

    @classmethod
    def open(cls, url: str, account: str, clock: Clock) -> StoreSink:
        """Open the store named by ``url``; :meth:`close` closes it again."""
        store = open_store(url, clock, tables_of())
        return cls(Ingestor(store, clock, Limits()), account, owned=True)

    def close(self) -> None:
        if self._owned:
            self.ingestor.store.close()

    def send(self, events: Sequence[RawEvent]) -> BatchResult:
        return deliver(self._try, events)

    def _try(self, events: list[RawEvent]) -> BatchResult | Refusal:
        try:
            accepted = self.ingestor.accept(self.account, orjson.dumps(events))
            stored = accepted.stored.result()
        except BatchTooLarge as exc:
            if len(events) > 1:
                return TOO_LARGE
            limits = self.ingestor.limits.describe()
            raise SinkError(f"an event is over the limits ({limits})") from exc
        except BatchRejected as rejected:
            return rejected.problems
        except StoreUnavailable as exc:
            raise SinkError(str(exc)) from exc
        return BatchResult(stored.accepted, stored.duplicates, stored.expired)


TOO_LARGE = "too large"
Refusal = list[Problem] | str
"""Why a batch was refused: the problems of its bad events, or TOO_LARGE."""
Attempt = Callable[[list[RawEvent]], BatchResult | Refusal]


def deliver(attempt: Attempt, batch: Sequence[RawEvent]) -> BatchResult:
    """Deliver ``batch`` by ``attempt``. The halves of a batch too large are sent one
    after the other; when some events are bad, they are reported and the rest sent again."""
    result = BatchResult()
    _deliver_into(attempt, list(batch), list(range(len(batch))), result)
    return result


def _deliver_into(
    attempt: Attempt, events: list[RawEvent], positions: list[int], result: BatchResult
) -> None:
    """Send ``events`` (at ``positions`` of the caller's batch), adding to ``result``."""
    for _ in range(5):
        if not events:
            return
        outcome = attempt(events)
        if isinstance(outcome, BatchResult):
            result.accepted += outcome.accepted
            result.duplicates += outcome.duplicates
            result.expired += outcome.expired
            return
        if outcome == TOO_LARGE:
            half = len(events) // 2
            _deliver_into(attempt, events[:half], positions[:half], result)
            _deliver_into(attempt, events[half:], positions[half:], result)
            return
        assert isinstance(outcome, list)
        bad = {p.index for p in outcome if p.index is not None and p.index < len(events)}
        if not bad:
            raise SinkError(f"the batch was refused: {outcome[0].message}")
        for problem in outcome:
            if problem.index in bad:
                at = positions[problem.index]
                result.problems.append(Problem(problem.field, problem.message, problem.allowed, at))
        keep = [i for i in range(len(events)) if i not in bad]
        events = [events[i] for i in keep]
        positions = [positions[i] for i in keep]
    raise SinkError("the batch kept being refused")


def open_sink(account: str, clock: Clock, *, url: str | None, store_url: str) -> Sink:
    """An HTTP sink when ``url`` is given, otherwise a sink on the store ``store_url``."""
    if url:
        return HttpSink(url, account)
    return StoreSink.open(store_url, account, clock)
