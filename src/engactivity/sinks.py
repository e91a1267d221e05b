"""Where simulated and imported events go: the HTTP ingestion endpoint or a store.

A sink takes one batch of raw events (plain dicts in the wire format of EVENTS.md)
and answers what became of it. Both sinks keep the good events of a batch even when
some of its events are invalid: the invalid ones are reported as rejected, with the
index they had in the batch given to :meth:`Sink.send`, and the rest is stored.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import quote

import httpx
import orjson

from engactivity.clock import Clock
from engactivity.events import validate_batch
from engactivity.problems import Problem
from engactivity.store import Store, StoreUnavailable, open_store

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
        result = BatchResult()
        self._send_into(list(events), list(range(len(events))), result)
        return result

    def _send_into(self, events: list[RawEvent], positions: list[int], result: BatchResult) -> None:
        """Send ``events`` (at ``positions`` of the caller's batch), adding to ``result``."""
        for _ in range(5):
            if not events:
                return
            response = self._post(events)
            status = response.status_code
            if status == 200:
                body = response.json()
                result.accepted += int(body.get("accepted", 0))
                result.duplicates += int(body.get("duplicates", 0))
                result.expired += int(body.get("expired", 0))
                return
            if status == 413 and len(events) > 1:
                half = len(events) // 2
                self._send_into(events[:half], positions[:half], result)
                self._send_into(events[half:], positions[half:], result)
                return
            if status == 400:
                problems = _problems_from_body(response)
                bad = {p.index for p in problems if p.index is not None and p.index < len(events)}
                if not bad:
                    # Nothing points at one event: the batch as a whole was refused.
                    raise SinkError(f"{self.url} refused the batch: {problems[0].message}")
                for problem in problems:
                    if problem.index is not None and problem.index in bad:
                        result.problems.append(
                            Problem(
                                problem.field,
                                problem.message,
                                problem.allowed,
                                positions[problem.index],
                            )
                        )
                keep = [i for i in range(len(events)) if i not in bad]
                events = [events[i] for i in keep]
                positions = [positions[i] for i in keep]
                continue
            hint = ""
            if status in (401, 403):
                hint = f" (set {TOKEN_ENV} to a write key of the account)"
            raise SinkError(f"{self.url} answered {status}{hint}: {response.text[:300]}")
        raise SinkError(f"{self.url} kept refusing the batch")


class StoreSink:
    """Validates batches like the API does and writes them straight into a store."""

    def __init__(self, store: Store, account: str, clock: Clock, *, owned: bool = False) -> None:
        self.store = store
        self.account = account
        self.clock = clock
        self._owned = owned

    @classmethod
    def open(cls, url: str, account: str, clock: Clock) -> StoreSink:
        """Open the store named by ``url``; :meth:`close` closes it again."""
        return cls(open_store(url, clock), account, clock, owned=True)

    def close(self) -> None:
        if self._owned:
            self.store.close()

    def send(self, events: Sequence[RawEvent]) -> BatchResult:
        now = self.clock()
        valid, problems = validate_batch(list(events), now)
        result = BatchResult(problems=problems)
        if not valid:
            return result
        try:
            stored = self.store.submit(self.account, valid, now).result()
        except StoreUnavailable as exc:
            raise SinkError(str(exc)) from exc
        result.accepted = stored.accepted
        result.duplicates = stored.duplicates
        result.expired = stored.expired
        return result


def open_sink(account: str, clock: Clock, *, url: str | None, store_url: str) -> Sink:
    """An HTTP sink when ``url`` is given, otherwise a sink on the store ``store_url``."""
    if url:
        return HttpSink(url, account)
    return StoreSink.open(store_url, account, clock)
