"""The benchmark's naive peer (bench/peer.py) answers as the server does, on random events.

``make bench`` compares the two on the simulated standard day; these events reach the
corners the simulator does not: missing and null fields, skill -1, waits at and beyond
86,400 s, queue samples up to five minutes ahead or exactly five minutes old, samples of
one skill at the same time whose ids order differently by code point and by UTF-16, and
random filters, intervals and histograms of every method.
"""

from __future__ import annotations

import random
from typing import Any

import duckdb
import orjson
from bench.data import peer_table_add, peer_table_end, peer_table_start
from bench.peer import answer, queue_health, queue_state, sla
from bench.run import first_difference

from tests.conftest import NOW_MS, Server

DAY_MS = 86_400_000
ACCOUNTS = ("p1", "p2")
SKILLS = [-1, 1, 2, 3, 4, 1000]
GROUPS = [-1, 1, 2, 10**12]
EDGES = [0, 5, 10, 15, 30, 45, 60, 120, 125, 300, 86_395, 86_400]
TIE_IDS = ("z", "\u00e9", "\U0001f600", "\uff5e")
"""By code point: z < U+00E9 < U+FF5E < U+1F600; UTF-16 would put U+1F600 before U+FF5E."""


def _events(rng: random.Random, account: str, now: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    types = ["queued", "connected", "abandoned", "queueState", "queueState", "closed"]
    for n in range(rng.randrange(600, 1200)):
        kind = rng.choice(types)
        event: dict[str, Any] = {
            "eventId": f"{account}-{n}",
            "type": kind,
            "time": now - rng.randrange(-299_000, DAY_MS),
        }
        if kind == "queueState":
            event |= {
                "skillId": rng.choice(SKILLS),
                "queueSize": rng.randrange(40),
                "availableSlots": rng.randrange(9),
            }
            if rng.random() < 0.3:  # around the five minutes that make a sample current
                event["time"] = now - rng.choice([300_001, 300_000, 299_999, 1, -299_000])
        else:
            skill = rng.choice([*SKILLS, None, "absent"])
            if skill != "absent":
                event["skillId"] = skill
        if kind == "connected":
            event["agentId"] = rng.randrange(1, 5)
            if rng.random() < 0.8:
                event["waitTime"] = rng.choice([0, 4, 5, 14, 15, 119, 120, 86_399, 86_400, 90_000])
            if rng.random() < 0.7:
                event["agentGroupId"] = rng.choice([*GROUPS, None])
        elif kind == "abandoned" and rng.random() < 0.8:
            event["waitTime"] = rng.randrange(500)
        elif kind == "closed":
            event |= {"interactive": rng.random() < 0.5, "handlingTime": rng.randrange(900)}
            if rng.random() < 0.7:
                event["agentId"] = rng.randrange(1, 5)
        out.append(event)
    for skill in (1, 2):  # samples at one time: the greatest eventId is the current one
        at = now - rng.randrange(100_000)
        for tie in TIE_IDS:
            sample = {"queueSize": rng.randrange(40), "availableSlots": rng.randrange(9)}
            out.append(
                {"eventId": f"{tie}{skill}", "type": "queueState", "time": at, "skillId": skill}
                | sample
            )
    rng.shuffle(out)
    return out


def _ids(rng: random.Random, pool: list[int]) -> str | None:
    r = rng.random()
    if r < 0.25:
        return None
    if r < 0.4:
        return rng.choice(["all", "ALL"])
    return ",".join(map(str, rng.sample(pool, rng.randrange(1, len(pool)))))


def _query(rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    method = rng.choice(["queuehealth", "queuehealth", "queuestate", "sla", "engactivity"])
    params: dict[str, Any] = {}
    if method != "queuestate":
        params["timeframe"] = rng.choice([1, 5, 6, 60, 300, 1440, rng.randrange(1, 1441)])
    params["skillIds"] = _ids(rng, [*SKILLS, 5, 999])
    if method in ("queuehealth", "engactivity") and rng.random() < 0.5:
        timeframe = params["timeframe"]
        divisors = [i for i in range(5, timeframe + 1) if timeframe % i == 0]
        params["interval"] = rng.choice(divisors) if divisors else None
    if method == "engactivity":
        params["agentIds"] = _ids(rng, [1, 2, 3, 9])
    if method == "sla":
        params["groupIds"] = _ids(rng, [*GROUPS, 7])
        if rng.random() < 0.6:
            params["histogram"] = ",".join(map(str, rng.sample(EDGES, rng.randrange(1, 7))))
    account = rng.choice([*ACCOUNTS, "nobody"])
    return method, account, {k: v for k, v in params.items() if v is not None}


def _peer(con: duckdb.DuckDBPyConnection, now: int, method: str, account: str, p: Any) -> Any:
    if method == "queuehealth":
        body = queue_health(con, now, account, p["timeframe"], p.get("skillIds"), p.get("interval"))
    elif method == "queuestate":
        body = queue_state(con, now, account, p.get("skillIds"))
    elif method == "sla":
        body = sla(
            con,
            now,
            account,
            p["timeframe"],
            p.get("skillIds"),
            p.get("groupIds"),
            p.get("histogram"),
        )
    else:
        body = answer(
            con,
            now,
            account,
            p["timeframe"],
            p.get("skillIds"),
            p.get("agentIds"),
            p.get("interval"),
        )
    return orjson.loads(orjson.dumps(body))


def test_peer_answers_as_the_server(server: Server) -> None:
    rng = random.Random(13)
    con = duckdb.connect()
    peer_table_start(con)
    seq = 0
    for account in ACCOUNTS:
        events = _events(rng, account, NOW_MS)
        for start in range(0, len(events), 500):
            response = server.send(account, events[start : start + 500])
            assert response.status_code == 200, response.text
            assert response.json()["accepted"] == len(events[start : start + 500])
        peer_table_add(con, account, seq, events)
        seq += len(events)
    peer_table_end(con)
    differences = []
    with server.client() as client:
        for now in (NOW_MS, NOW_MS + 90_000):
            server.set_now(now)
            for _ in range(120):
                method, account, params = _query(rng)
                url = f"/operations/api/account/{account}/{method}"
                response = client.get(url, params={**params, "v": 1})
                assert response.status_code == 200, (url, params, response.text)
                diff = first_difference(response.json(), _peer(con, now, method, account, params))
                if diff:
                    differences.append(f"{method} {account} {params} at {now}: {diff}")
    assert not differences, "\n".join(differences[:10])
