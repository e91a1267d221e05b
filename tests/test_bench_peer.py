"""The benchmark's naive peer (bench/peer.py) answers as the server does, on random events.

``make bench`` compares the two on the simulated standard day; these events reach the
corners the simulator does not: missing and null fields, skill -1, waits at and beyond
86,400 s, queue samples up to five minutes ahead or exactly five minutes old, samples of
one skill at the same time whose ids order differently by code point and by UTF-16, and
random filters, intervals and histograms of every method. Agent timelines come out of
order, with duplicates, reasons (strings and integers), unlimited chat limits, states at
one instant ordered by eventId, and agents logged in before the window; agent activity is
asked by GET and by POST, at a now mid-bucket and one on a bucket's edge.
"""

from __future__ import annotations

import random
from typing import Any

import duckdb
import orjson
from bench.data import peer_table_add, peer_table_end, peer_table_start
from bench.peer import agent_activity, answer, queue_health, queue_state, sla
from bench.run import first_difference

from tests.conftest import NOW_MS, Server

DAY_MS = 86_400_000
ACCOUNTS = ("p1", "p2")
SKILLS = [-1, 1, 2, 3, 4, 1000]
GROUPS = [-1, 1, 2, 10**12]
EDGES = [0, 5, 10, 15, 30, 45, 60, 120, 125, 300, 86_395, 86_400]
TIE_IDS = ("z", "\u00e9", "\U0001f600", "\uff5e")
"""By code point: z < U+00E9 < U+FF5E < U+1F600; UTF-16 would put U+1F600 before U+FF5E."""
AGENTS = [1, 2, 3, 4, 5, 10**12]
REASONS = ["10", "9", 7, 2642559712, "2642559712", "b", "\u00e9", "r" * 64]
OLDEST_MS = DAY_MS + 8 * 60_000
"""Agent states go back this far: before any window, within the retention."""


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
    out += _agent_events(rng, account, now)
    rng.shuffle(out)
    return out


def _agent_state(rng: random.Random, event_id: str, agent: int, at: int) -> dict[str, Any]:
    state = rng.choice(["online", "online", "backSoon", "away", "away", "loggedOut"])
    event = {"eventId": event_id, "type": "agentState", "time": at, "agentId": agent}
    event["state"] = state
    if state == "away" and rng.random() < 0.8:
        event["reasonId"] = rng.choice([*REASONS, None])
    if rng.random() < 0.8:
        event["activeChats"] = rng.choice([0, 0, 1, 2, 3, 5])
    if rng.random() < 0.7:
        event["maxChats"] = rng.choice([1, 2, 3, None])
    return event


def _agent_events(rng: random.Random, account: str, now: int) -> list[dict[str, Any]]:
    """Timelines of a few agents: some events ahead of now, states at one instant whose
    eventIds order by code point, and exact duplicates."""
    out: list[dict[str, Any]] = []
    for agent in AGENTS:
        for n in range(rng.randrange(0, 80)):
            at = now - rng.randrange(-299_000, OLDEST_MS)
            if rng.random() < 0.1:  # on a bucket's or a minute's edge
                at -= at % rng.choice([60_000, 300_000])
            out.append(_agent_state(rng, f"{account}-g{agent}-{n}", agent, at))
    for agent in (1, 2):
        at = now - rng.randrange(DAY_MS)
        out += [_agent_state(rng, f"{tie}g{agent}", agent, at) for tie in TIE_IDS]
    return out + rng.sample(out, min(20, len(out)))


def _ids(rng: random.Random, pool: list[int]) -> str | None:
    r = rng.random()
    if r < 0.25:
        return None
    if r < 0.4:
        return rng.choice(["all", "ALL"])
    return ",".join(map(str, rng.sample(pool, rng.randrange(1, len(pool)))))


def _query(rng: random.Random) -> tuple[str, str, dict[str, Any]]:
    methods = ["queuehealth", "queuestate", "sla", "engactivity", "agentactivity"]
    method = rng.choice([*methods, "queuehealth", "agentactivity"])
    params: dict[str, Any] = {}
    if method != "queuestate":
        params["timeframe"] = rng.choice([1, 5, 6, 60, 300, 1440, rng.randrange(1, 1441)])
    params["skillIds"] = _ids(rng, [*SKILLS, 5, 999])
    if method in ("queuehealth", "engactivity", "agentactivity") and rng.random() < 0.5:
        timeframe = params["timeframe"]
        divisors = [i for i in range(5, timeframe + 1) if timeframe % i == 0]
        params["interval"] = rng.choice(divisors) if divisors else None
    if method == "engactivity":
        params["agentIds"] = _ids(rng, [1, 2, 3, 9])
    if method == "agentactivity":
        params["agentIds"] = _ids(rng, [*AGENTS, 9]) or "all"
        params.pop("skillIds")
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
    elif method == "agentactivity":
        body = agent_activity(con, now, account, p["timeframe"], p["agentIds"], p.get("interval"))
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
            counts = response.json()  # the agent events repeat some (duplicates)
            assert counts["accepted"] + counts["duplicates"] == len(events[start : start + 500])
            assert counts["expired"] == 0
        peer_table_add(con, account, seq, events)
        seq += len(events)
    peer_table_end(con)
    differences = []
    with server.client() as client:
        for now in (NOW_MS, NOW_MS + 60_000, NOW_MS + 90_000):
            server.set_now(now)
            for _ in range(120):
                method, account, params = _query(rng)
                url = f"/operations/api/account/{account}/{method}"
                if method == "agentactivity" and rng.random() < 0.3:  # the POST form
                    form = {k: str(v) if rng.random() < 0.5 else v for k, v in params.items()}
                    response = client.post(url, json={**form, "v": "1"})
                else:
                    response = client.get(url, params={**params, "v": 1})
                assert response.status_code == 200, (url, params, response.text)
                diff = first_difference(response.json(), _peer(con, now, method, account, params))
                if diff:
                    differences.append(f"{method} {account} {params} at {now}: {diff}")
    assert not differences, "\n".join(differences[:10])


def _value(total: int, chatting: int, maxc: int = 0) -> dict[str, int]:
    return {
        "total": total,
        "chatting": chatting,
        "notChatting": total - chatting,
        "chattingInMaxConcurrency": maxc,
    }


def _entry(
    online: dict[str, int], back: dict[str, int], away: dict[str, int], reasons: dict[str, Any]
) -> list[dict[str, Any]]:
    logged_in = {k: online[k] + back[k] + away[k] for k in online}
    return [
        {"id": 2, "name": "Online", "value": online},
        {"id": 3, "name": "Back in 5", "value": back},
        {"reasons": [{"id": r, "value": v} for r, v in reasons.items()], "id": 4}
        | {"name": "Away", "value": away},
        {"id": -1, "name": "Logged in", "value": logged_in},
    ]


HAND_NOW = 8 * 3_600_000 + 7 * 60_000
"""08:07 (of 1970-01-01): AGENTS.md's example, T=20, I=10."""


def _state(event_id: str, ago_ms: int, agent: int, state: str, **fields: Any) -> dict[str, Any]:
    event = {"eventId": event_id, "type": "agentState", "time": HAND_NOW - ago_ms}
    return event | {"agentId": agent, "state": state} | fields


def _hand_events() -> list[dict[str, Any]]:
    m = 60_000
    return [
        # agent 1: online at its limit since 07:40, away (reason 10) at 07:55 with its chat,
        # online without chats from 08:02:00.5
        _state("a1", 27 * m, 1, "online", activeChats=1, maxChats=1),
        _state("a2", 12 * m, 1, "away", reasonId=10, activeChats=1),
        _state("a3", 5 * m - 500, 1, "online"),
        # agent 2: back soon for a second, out of order; a second delivery of b1 is ignored
        _state("b2", 500, 2, "loggedOut"),
        _state("b1", 1500, 2, "backSoon", activeChats=2, maxChats=3),
        _state("b1", 1500, 2, "backSoon"),
        # agent 3: two states at one instant, the later by code point (U+00E9 > z) holds
        _state("\u00e9", 3 * m, 3, "away", reasonId="9"),
        _state("z", 3 * m, 3, "online"),
        # agent 4: logged in for half a second: listed, with zeros
        _state("c1", 1000, 4, "online"),
        _state("c2", 500, 4, "loggedOut"),
        # agent 5: logged out all along
        _state("d1", 10 * m, 5, "loggedOut"),
    ]


def test_peer_agent_activity_by_hand() -> None:
    con = duckdb.connect()
    peer_table_start(con)
    peer_table_add(con, "x", 0, _hand_events())
    peer_table_end(con)
    body = agent_activity(con, HAND_NOW, "x", 20, "all", 10)
    zero = _value(0, 0)
    quiet = _entry(zero, zero, zero, {})
    assert [i["timestamp"] for i in body["metricsByIntervals"]] == [
        HAND_NOW + 3 * 60_000,
        HAND_NOW - 7 * 60_000,
        HAND_NOW - 17 * 60_000,
    ]
    per_interval = [i["metricsData"]["agentsMetrics"] for i in body["metricsByIntervals"]]
    # 08:00-08:07: away 120.5 s, online 299.5 s; Logged in adds the floors (419, not 420)
    assert per_interval[0]["metricsPerAgent"]["1"] == _entry(
        _value(299, 0), zero, _value(120, 120), {"10": _value(120, 120)}
    )
    assert per_interval[0]["metricsPerAgent"]["2"] == _entry(zero, _value(1, 1), zero, {})
    assert per_interval[0]["metricsPerAgent"]["4"] == quiet
    assert per_interval[1] == {
        "metricsPerAgent": {
            "1": _entry(_value(300, 300, 300), zero, _value(300, 300), {"10": _value(300, 300)})
        },
        "metricsTotals": [],
    }
    assert per_interval[2]["metricsPerAgent"] == {
        "1": _entry(_value(180, 180, 180), zero, zero, {})
    }
    window = body["agentsMetrics"]["metricsPerAgent"]
    assert sorted(window, key=int) == ["1", "2", "3", "4"]
    assert window["1"] == _entry(
        _value(779, 480, 480), zero, _value(420, 420), {"10": _value(420, 420)}
    )
    assert window["3"] == _entry(zero, zero, _value(180, 0), {"9": _value(180, 0)})
    listed = agent_activity(con, HAND_NOW, "x", 5, "3,5,6,3", None)
    assert listed == {
        "agentsMetrics": {
            "metricsPerAgent": {"3": _entry(zero, zero, _value(180, 0), {"9": _value(180, 0)})},
            "metricsTotals": [],
        }
    }
