"""The naive peer: the same query API as a user could write it in an afternoon.

Raw events sit in one DuckDB table (``events``, built by :mod:`bench.data`); every
request runs one ``GROUP BY`` over them and shapes the answer in Python; the app is
FastAPI served by uvicorn, like engactivity. It reads SEMANTICS.md, not engactivity's
code, so agreeing answers mean something. It validates nothing beyond what the
benchmark sends.

Run: ``python -m bench.peer --db peer.duckdb --port 8091 --now-ms 1795536150000``.
"""

from __future__ import annotations

import argparse
import threading
from typing import Any

import duckdb
import orjson
import uvicorn
from fastapi import FastAPI
from starlette.responses import Response

B = 300_000
MIN = 60_000
KEYS = (
    "totalInteractiveChats",
    "totalNonInteractiveChats",
    "totalHandlingTime",
    "nonInteractiveTotalHandlingTime",
    "connectedEngagements",
)
ZERO = (0, 0, 0, 0, 0)
Metrics = tuple[int, int, int, int, int]

SQL = """
SELECT {k} AS k, {skill} AS skill, {agent} AS agent,
       count(*) FILTER (WHERE type = 'closed' AND interactive),
       count(*) FILTER (WHERE type = 'closed' AND NOT interactive),
       coalesce(sum(handling_time) FILTER (WHERE type = 'closed' AND interactive), 0),
       coalesce(sum(handling_time) FILTER (WHERE type = 'closed' AND NOT interactive), 0),
       count(*) FILTER (WHERE type = 'connected')
FROM events
WHERE account = $account AND time >= $lo AND time < $hi {filters}
GROUP BY ALL
"""


def parse_ids(value: str | None) -> list[int] | str | None:
    """``None`` when absent, ``"all"``, or the list of ids."""
    if value is None or not value.strip():
        return None
    if value.strip().lower() == "all":
        return "all"
    return sorted({int(item) for item in value.split(",")})


def add(a: Metrics, b: Metrics) -> Metrics:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3], a[4] + b[4])


def metrics(m: Metrics) -> dict[str, int]:
    return dict(zip(KEYS, m, strict=True))


class Section:
    def __init__(self) -> None:
        self.totals: Metrics = ZERO
        self.skills: dict[int, Metrics] = {}
        self.skill_agents: dict[int, dict[int, Metrics]] = {}
        self.agents: dict[int, Metrics] = {}

    def add(self, skill: int, agent: int | None, m: Metrics) -> None:
        self.totals = add(self.totals, m)
        self.skills[skill] = add(self.skills.get(skill, ZERO), m)
        if agent is not None:
            per = self.skill_agents.setdefault(skill, {})
            per[agent] = add(per.get(agent, ZERO), m)
            self.agents[agent] = add(self.agents.get(agent, ZERO), m)

    def body(self, with_skills: bool, with_agents: bool) -> dict[str, Any]:
        if not with_skills and not with_agents:
            return {"metricsTotals": metrics(self.totals)}
        out: dict[str, Any] = {}
        if with_skills:
            out["skillsMetricsPerAgent"] = {
                "metricsPerSkill": {
                    str(s): {
                        "metricsPerAgent": {
                            str(a): metrics(m)
                            for a, m in sorted(self.skill_agents.get(s, {}).items())
                        },
                        "metricsTotals": metrics(t),
                    }
                    for s, t in sorted(self.skills.items())
                },
                "metricsTotals": metrics(self.totals),
            }
        if with_agents:
            out["agentsMetrics"] = {
                "metricsPerAgent": {str(a): metrics(m) for a, m in sorted(self.agents.items())},
                "metricsTotals": metrics(self.totals),
            }
        return out


def ceil_b(ms: int) -> int:
    return -(-ms // B) * B


def answer(
    con: duckdb.DuckDBPyConnection,
    now: int,
    account: str,
    timeframe: int,
    skill_ids: str | None,
    agent_ids: str | None,
    interval: int | None,
) -> dict[str, Any]:
    last = now // B
    first = (now - timeframe * MIN) // B
    lo, hi = first * B, (last + 1) * B
    skills = parse_ids(skill_ids)
    agents = parse_ids(agent_ids)
    filters = ""
    if isinstance(skills, list):
        filters += f" AND skill IN ({','.join(map(str, skills))})"
    if agents is not None:
        filters += " AND agent IS NOT NULL"
        if isinstance(agents, list):
            filters += f" AND agent IN ({','.join(map(str, agents))})"
    if interval:
        # interval k holds the buckets starting in [E(k+1), E(k)), E(k) = ceilB(E0 - k*I)
        k = f"({hi} - (time // {B}) * {B} - 1) // {interval * MIN}"
        count = 1
        while ceil_b(hi - count * interval * MIN) > lo:
            count += 1
    else:
        k, count = "0", 1
    # Group by only what the answer shows: skills need their agents; totals need neither.
    skill_col = "skill" if skills is not None else "-1"
    agent_col = "agent" if skills is not None or agents is not None else "NULL::BIGINT"
    sql = SQL.format(k=k, skill=skill_col, agent=agent_col, filters=filters)
    rows = con.execute(sql, {"account": account, "lo": lo, "hi": hi}).fetchall()
    whole = Section()
    parts = [Section() for _ in range(count)]
    for index, skill, agent, *values in rows:
        m: Metrics = (values[0], values[1], int(values[2]), int(values[3]), values[4])
        whole.add(skill, agent, m)
        parts[index].add(skill, agent, m)
    with_skills, with_agents = skills is not None, agents is not None
    body = whole.body(with_skills, with_agents)
    if not interval:
        return body
    return {
        "metricsByIntervals": [
            {
                "timestamp": ceil_b(hi - k_ * interval * MIN),
                "metricsData": part.body(with_skills, with_agents),
            }
            for k_, part in enumerate(parts)
        ],
        **body,
    }


def create_app(db: str, now: int) -> FastAPI:
    app = FastAPI()
    root = duckdb.connect(db, read_only=True)
    local = threading.local()

    def connection() -> duckdb.DuckDBPyConnection:
        con: duckdb.DuckDBPyConnection | None = getattr(local, "con", None)
        if con is None:
            con = local.con = root.cursor()
        return con

    @app.get("/healthz")
    def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @app.get("/operations/api/account/{accountId}/engactivity")
    def engactivity(
        accountId: str,
        timeframe: int,
        v: int,
        skillIds: str | None = None,
        agentIds: str | None = None,
        interval: int | None = None,
    ) -> Response:
        body = answer(connection(), now, accountId, timeframe, skillIds, agentIds, interval)
        return Response(orjson.dumps(body), media_type="application/json")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--now-ms", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.db, args.now_ms),
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
