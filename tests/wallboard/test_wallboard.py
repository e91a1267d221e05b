"""The wallboard in a real browser: Debian's chromium driven by Playwright for Python.

One server per module holds a day of the demo's simulated traffic for account ``demo``
(the same generator as ``serve --demo``, sent through the ingestion API before the
first page loads; the generator sends every event type, queue samples included), and its
clock pinned at NOW_MS: the numbers do not move between the page's fetch and the
test's, so they can be compared exactly.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    Page,
    Route,
    ViewportSize,
    expect,
    sync_playwright,
)

from engactivity.simulate import DAY_MS, DEMO_CONFIG, generate_events
from engactivity.simulate.names import account_configuration
from tests.auth.keyhelp import create_key
from tests.conftest import MIN, NOW_MS, Server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ACCOUNT = "demo"
API_GLOB = "**/operations/api/account/*/engactivity?*"
WALL: ViewportSize = {"width": 1920, "height": 1080}
Metrics = dict[str, int]
Event = dict[str, object]


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("wallboard")).start()
    try:
        events = list(generate_events(DEMO_CONFIG, NOW_MS - DAY_MS, NOW_MS))
        for start in range(0, len(events), 5000):
            answer = srv.send(ACCOUNT, events[start : start + 5000])
            assert answer.status_code == 200, answer.text
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), (
        f"{CHROMIUM} is missing: `make test` installs it (bash scripts/install-system-deps)"
    )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=WALL, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(10_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert errors == [], errors


# -- helpers -------------------------------------------------------------------------------


def fmt_int(value: int) -> str:
    return f"{value:,}"


NO_DATA = "—"


def js_round(value: float) -> int:
    """JavaScript's Math.round: to the nearest integer, halves up."""
    whole = math.floor(value)
    return whole + 1 if value - whole >= 0.5 else whole


def fmt_aht(metrics: Metrics) -> str:
    """The page's average handling time: all handling time over all closed chats, m:ss."""
    chats = metrics["totalInteractiveChats"] + metrics["totalNonInteractiveChats"]
    if not chats:
        return NO_DATA
    handling = metrics["totalHandlingTime"] + metrics["nonInteractiveTotalHandlingTime"]
    return fmt_duration(handling / chats)


def fmt_duration(seconds_: float | None) -> str:
    """Seconds as m:ss (h:mm:ss from an hour on), rounded; an em dash for no data."""
    if seconds_ is None:
        return NO_DATA
    seconds = js_round(seconds_)
    hours, rest = divmod(seconds, 3600)
    if hours:
        return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{rest // 60}:{rest % 60:02d}"


def row_texts(metrics: Metrics) -> list[str]:
    return [
        fmt_int(metrics["connectedEngagements"]),
        fmt_int(metrics["totalInteractiveChats"]),
        fmt_int(metrics["totalNonInteractiveChats"]),
        fmt_aht(metrics),
    ]


def api(srv: Server, **params: object) -> Any:
    answer = srv.query(ACCOUNT, **params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def open_board(page: Page, srv: Server, timeframe: int = 60, interval: int = 15) -> None:
    page.goto(f"{srv.base_url}/?account={ACCOUNT}&timeframe={timeframe}&interval={interval}")
    wait_rendered(page, timeframe, interval)


def wait_rendered(
    page: Page, timeframe: int, interval: int, threshold: int = 30, account: str = ACCOUNT
) -> None:
    """Wait until the page shows the answers for exactly this query."""
    body = page.locator("body")
    expect(body).to_have_attribute("data-rendered", f"{account}/{timeframe}/{interval}")
    expect(body).to_have_attribute("data-threshold", str(threshold))


def tiles(page: Page) -> list[str]:
    ids = ["total-connected", "total-interactive", "total-noninteractive", "total-aht"]
    return [page.locator(f"#{i}").inner_text() for i in ids]


def expected_tiles(totals: Metrics) -> list[str]:
    return [
        fmt_int(totals["connectedEngagements"]),
        fmt_int(totals["totalInteractiveChats"]),
        fmt_int(totals["totalNonInteractiveChats"]),
        fmt_aht(totals),
    ]


def table(page: Page, table_id: str) -> dict[str, list[str]]:
    """The rows of a table: id -> the four number cells, as shown."""
    rows: list[dict[str, Any]] = page.eval_on_selector_all(
        f"#{table_id} tbody tr",
        "rows => rows.map(r => ({id: r.dataset.id,"
        " cells: Array.from(r.cells).slice(1).map(c => c.innerText.trim())}))",
    )
    return {row["id"]: row["cells"] for row in rows}


def row_ids(page: Page, table_id: str) -> list[str]:
    ids: list[str] = page.eval_on_selector_all(
        f"#{table_id} tbody tr", "rows => rows.map(r => r.dataset.id)"
    )
    return ids


def without_push(page: Page) -> None:
    """Refuse the page's event streams, as a server with --max-streams 0 does: it polls."""

    def refuse(route: Route) -> None:
        if route.request.headers.get("accept") == "text/event-stream":
            route.fulfill(status=503, json={"error": "too_many_streams", "message": "full"})
        else:
            route.fallback()

    page.route("**/operations/api/account/**", refuse)


def freeze_clock(page: Page) -> None:
    """Run the page's timers on a paused fake clock: they fire only on clock.run_for()."""
    page.clock.install(time=NOW_MS / 1000)
    page.clock.pause_at(NOW_MS / 1000 + 1)


def check_against_api(
    page: Page, srv: Server, timeframe: int, interval: int, threshold: int = 30
) -> None:
    check_queue_against_api(page, srv, timeframe, interval, threshold)
    check_agents_against_api(page, srv, timeframe)
    series = api(srv, timeframe=timeframe, interval=interval)
    assert tiles(page) == expected_tiles(series["metricsTotals"])
    points = page.locator("#chart").get_attribute("data-points")
    assert points == str(len(series["metricsByIntervals"]))
    skills = api(srv, timeframe=timeframe, skillIds="all")["skillsMetricsPerAgent"]
    assert table(page, "skills") == {
        skill: row_texts(data["metricsTotals"]) for skill, data in skills["metricsPerSkill"].items()
    }
    agents = api(srv, timeframe=timeframe, agentIds="all")["agentsMetrics"]["metricsPerAgent"]
    assert table(page, "agents") == {agent: row_texts(m) for agent, m in agents.items()}


# -- the queue: what the page should show for the API's answers -----------------------------

QUEUE_STATS = [
    "queue-waiting",
    "queue-slots",
    "queue-sla",
    "queue-ata",
    "queue-abandonment",
    "queue-entered",
    "queue-connected",
    "queue-abandoned",
]
SLA_EDGES = "0,15,30,60,120"
"""Every threshold the page offers is an edge: the test reads its own histogram."""


def queue_api(srv: Server, method: str, account: str = ACCOUNT, **params: object) -> Any:
    answer = httpx.get(
        f"{srv.base_url}/operations/api/account/{account}/{method}",
        params={"v": "1", **{key: str(value) for key, value in params.items()}},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def gauge(value: float | None) -> float | None:
    """The queue methods' -1 means "no data"."""
    return None if value is None or value < 0 else value


def queue_values(m: dict[str, Any] | None, current: dict[str, int] | None) -> dict[str, Any]:
    """What the page shows of a skill's (or the totals') queue: QUEUE.md's answers, with -1
    and the averages and rate of nothing (which the API gives as 0) as missing."""
    current = current or {}
    return {
        "waiting": gauge(current.get("currentQueueSize")),
        "slots": gauge(current.get("currentAvailableSlots")),
        "entered": m["enteredQEng"] if m else 0,
        "connected": m["connectedEng"] if m else 0,
        "abandoned": m["abandonedEng"] if m else 0,
        "ata": m["avgTimeToAnswer"] if m and m["connectedEng"] else None,
        "rate": (m["abandonmentRate"] if m and m["connectedEng"] + m["abandonedEng"] else None),
        "avg_queue": gauge(m["averageQueueSize"]) if m else None,
        "max_queue": gauge(m["maxQueueSize"]) if m else None,
    }


def fmt_count(value: float | None) -> str:
    return NO_DATA if value is None else fmt_int(int(value))


def fmt_percent(share: float | None) -> str:
    return NO_DATA if share is None else f"{js_round(share * 100)}%"


def fmt_decimal(value: float | None) -> str:
    """One decimal, halves up on the double's exact value (as Intl.NumberFormat does)."""
    if value is None:
        return NO_DATA
    return f"{Decimal(value).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP):,}"


def queue_row_texts(v: dict[str, Any]) -> list[str]:
    return [
        fmt_count(v["waiting"]),
        fmt_count(v["slots"]),
        fmt_int(v["entered"]),
        fmt_int(v["connected"]),
        fmt_int(v["abandoned"]),
        fmt_duration(v["ata"]),
        fmt_percent(v["rate"]),
        fmt_decimal(v["avg_queue"]),
        fmt_count(v["max_queue"]),
    ]


def sla_share(srv: Server, timeframe: int, threshold: int, account: str = ACCOUNT) -> float | None:
    """The share answered in under `threshold` s, read from a histogram of the test's own:
    the `accumulated` share of the range that ends at the threshold. None: nobody answered."""
    ranges = queue_api(srv, "sla", account, timeframe=timeframe, histogram=SLA_EDGES)[
        "slaDataRange"
    ]
    edges = [int(edge) for edge in ranges]
    assert edges == sorted(edges) and threshold in edges
    if not sum(r["chats"] for r in ranges.values()):
        return None
    share: float = ranges[str(edges[edges.index(threshold) - 1])]["accumulated"]
    return share


def queue_stats(page: Page) -> list[str]:
    return [page.locator(f"#{i}").inner_text() for i in QUEUE_STATS]


def queue_chart_rows(page: Page) -> list[tuple[int, float | None, float | None]]:
    """The queue chart's data, oldest interval first, from the table beside it."""
    rows: list[dict[str, Any]] = page.eval_on_selector_all(
        "#queue-chart-data tbody tr",
        "rows => rows.map(r => ({t: r.dataset.timestamp,"
        " v: Array.from(r.cells).slice(1).map(c => c.dataset.value)}))",
    )

    def number(text: str) -> float | None:
        return float(text) if text else None

    return [(int(row["t"]), number(row["v"][0]), number(row["v"][1])) for row in rows]


def waiting_on_average(skills: dict[str, Any]) -> float | None:
    """The chart's average line: the skills' average queue sizes added up, from the API's
    per-skill answers (None when no skill was sampled)."""
    sampled = [v for m in skills.values() if (v := gauge(m["averageQueueSize"])) is not None]
    return sum(sampled) if sampled else None


def check_queue_against_api(
    page: Page,
    srv: Server,
    timeframe: int,
    interval: int,
    threshold: int = 30,
    account: str = ACCOUNT,
) -> None:
    health = queue_api(
        srv, "queuehealth", account, timeframe=timeframe, skillIds="all", interval=interval
    )
    state = queue_api(srv, "queuestate", account, skillIds="all")
    share = sla_share(srv, timeframe, threshold, account)

    totals = queue_values(health["metricsTotals"], state["totals"])
    assert queue_stats(page) == [
        fmt_count(totals["waiting"]),
        fmt_count(totals["slots"]),
        fmt_percent(share),
        fmt_duration(totals["ata"]),
        fmt_percent(totals["rate"]),
        fmt_int(totals["entered"]),
        fmt_int(totals["connected"]),
        fmt_int(totals["abandoned"]),
    ]
    expect(page.locator("#queue-sla-label")).to_have_text(f"Answered < {threshold} s")

    skills = health["skillsMetrics"]
    current = state["skills"]
    assert table(page, "queue-skills") == {
        skill: queue_row_texts(queue_values(skills.get(skill), current.get(skill)))
        for skill in {*skills, *current}
    }

    intervals = health["metricsByIntervals"][::-1]  # the API lists them newest first
    assert page.locator("#queue-chart").get_attribute("data-points") == str(len(intervals))
    assert queue_chart_rows(page) == [
        (
            i["timestamp"],
            pytest.approx(waiting_on_average(i["metricsData"]["skillsMetrics"])),
            gauge(i["metricsData"]["metricsTotals"]["maxQueueSize"]),
        )
        for i in intervals
    ]


# -- the agents: what the page should show for agentactivity's answers ---------------------

NOW_STATS = ["now-online", "now-backsoon", "now-away", "now-loggedin"]
STATE_IDS = {"online": 2, "backSoon": 3, "away": 4, "loggedIn": -1}
"""agentactivity's entry ids; the agents now are shown in this order."""


def agent_values(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """What the agent states table shows of an agent's four entries (AGENTS.md section 5)."""
    by_id = {entry["id"]: entry for entry in entries}
    assert sorted(by_id) == sorted(STATE_IDS.values())
    logged_in = by_id[-1]["value"]
    return {
        **{name: by_id[i]["value"]["total"] for name, i in STATE_IDS.items()},
        "reasons": [(r["id"], r["value"]["total"]) for r in by_id[4]["reasons"]],
        "occupancy": logged_in["chatting"] / logged_in["total"] if logged_in["total"] else None,
        "fullCapacity": logged_in["chattingInMaxConcurrency"],
    }


def agent_row_texts(v: dict[str, Any]) -> list[str]:
    return [
        fmt_duration(v["online"]),
        fmt_duration(v["backSoon"]),
        fmt_duration(v["away"]),
        fmt_duration(v["loggedIn"]),
        fmt_percent(v["occupancy"]),
        fmt_duration(v["fullCapacity"]),
    ]


def reasons_title(v: dict[str, Any]) -> str:
    """The away cell's tooltip: each away reason's time, in the API's order."""
    return "\n".join(f"Reason {reason}: {fmt_duration(total)}" for reason, total in v["reasons"])


def agents_now(answer: dict[str, Any]) -> list[int]:
    """The agents now from the last minute's answer: agents with at least a whole second
    online, back soon, away and logged in (an agent may count in several states)."""
    per_agent = answer["agentsMetrics"]["metricsPerAgent"]
    counts = dict.fromkeys(STATE_IDS, 0)
    for entries in per_agent.values():
        for name, seconds_ in agent_values(entries).items():
            if name in counts and seconds_ > 0:
                counts[name] += 1
    return list(counts.values())


def now_stats(page: Page) -> list[str]:
    return [page.locator(f"#{i}").inner_text() for i in NOW_STATS]


def away_titles(page: Page) -> dict[str, str]:
    """The agent states table's away tooltips: agent id -> title."""
    rows: list[dict[str, str]] = page.eval_on_selector_all(
        "#agent-states tbody tr", "rows => rows.map(r => ({id: r.dataset.id, t: r.cells[3].title}))"
    )
    return {row["id"]: row["t"] for row in rows}


def check_agents_against_api(
    page: Page, srv: Server, timeframe: int, account: str = ACCOUNT
) -> dict[str, dict[str, Any]]:
    """The agents now and the agent states table equal agentactivity's answers; returns the
    table's values per agent."""
    now = queue_api(srv, "agentactivity", account, timeframe=1, agentIds="all")
    assert now_stats(page) == [fmt_int(count) for count in agents_now(now)]
    answer = queue_api(srv, "agentactivity", account, timeframe=timeframe, agentIds="all")
    values = {
        agent: agent_values(entries)
        for agent, entries in answer["agentsMetrics"]["metricsPerAgent"].items()
    }
    assert table(page, "agent-states") == {a: agent_row_texts(v) for a, v in values.items()}
    assert away_titles(page) == {a: reasons_title(v) for a, v in values.items()}
    title = f"Agent states, last {timeframe} min" if timeframe < 60 else None
    expect(page.locator("#agent-states-title")).to_have_text(
        title or f"Agent states, last {timeframe // 60} h"
    )
    return values


def assert_fits_sideways(page: Page) -> None:
    """Every column of every table is on screen: the tables scroll only downwards."""
    sideways: list[str] = page.eval_on_selector_all(
        ".scroll",
        "boxes => boxes.filter(b => b.scrollWidth > b.clientWidth)"
        ".map(b => b.querySelector('table').id)",
    )
    assert sideways == []


def assert_no_overlap(page: Page) -> None:
    """No two panels, tiles or numbers of the board overlap, and no number is cut off."""
    boxes: list[dict[str, Any]] = page.eval_on_selector_all(
        ".tile, .queue, .chart-panel, .panel, .now-stat, .stat",
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return {name: e.className + ' ' + (e.querySelector('h2, dt') || e).textContent.trim()"
        ".slice(0, 30), parent: e.parentElement.closest('.tile, .queue, .panel') !== null,"
        " x0: r.left, y0: r.top, x1: r.right, y1: r.bottom}; })",
    )
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if a["parent"] != b["parent"]:
                continue  # a number inside its own tile
            apart = (
                a["x1"] <= b["x0"] + 0.5
                or b["x1"] <= a["x0"] + 0.5
                or a["y1"] <= b["y0"] + 0.5
                or b["y1"] <= a["y0"] + 0.5
            )
            assert apart, (a, b)
    cut: list[str] = page.eval_on_selector_all(
        ".tile .value, .stat dd, .now dd",
        "els => els.filter(e => e.scrollWidth > e.clientWidth).map(e => e.id)",
    )
    assert cut == []


# -- serving -------------------------------------------------------------------------------


def test_page_and_static_files_are_served(board: Server) -> None:
    with board.client() as client:
        for path in ("/", "/wallboard"):
            page = client.get(path)
            assert page.status_code == 200
            assert page.headers["content-type"].startswith("text/html")
            assert "/wallboard/static/app.js" in page.text
            assert "{{version}}" not in page.text
            assert "default-src 'self'" in page.headers["content-security-policy"]
        kinds = {
            "app.js": "javascript",
            "push.js": "javascript",
            "vendor/eventsource-parser.js": "javascript",
            "style.css": "text/css",
            "vendor/uPlot.iife.min.js": "javascript",
            "vendor/uPlot.min.css": "text/css",
        }
        for name, kind in kinds.items():
            static = client.get(f"/wallboard/static/{name}")
            assert static.status_code == 200, name
            assert kind in static.headers["content-type"], name
        missing = client.get("/wallboard/static/nope.js")
        assert missing.status_code == 404
        assert missing.json()["error"] == "not_found"
        paths = client.get("/openapi.json").json()["paths"]
        assert not {p for p in paths if p == "/" or p.startswith("/wallboard")}


def test_vendored_chart_library_matches_its_version_note() -> None:
    folder = Path(__file__).parents[2] / "src" / "engactivity" / "wallboard" / "vendor"
    note = (folder / "README.md").read_text()
    version = re.search(r"uplot@(\d+\.\d+\.\d+)", note)
    assert version, note
    banner = (folder / "uPlot.iife.min.js").read_text()[:200]
    assert f"(v{version.group(1)})" in banner
    assert "MIT License" in (folder / "uPlot.LICENSE").read_text()


# -- in the browser ------------------------------------------------------------------------


def test_page_shows_the_api_numbers(page: Page, board: Server, tmp_path: Path) -> None:
    open_board(page, board, timeframe=60, interval=15)
    check_against_api(page, board, 60, 15)
    expect(page.locator("#updated")).to_have_text(re.compile(r"^Updated \d\d:\d\d:\d\d"))
    expect(page.locator("#error")).to_be_hidden()
    expect(page.locator("#title-account")).to_have_text(ACCOUNT)
    # uPlot drew into canvases of the charts' size (side by side, with the agent states).
    for chart in ("#chart", "#queue-chart"):
        box = page.locator(f"{chart} canvas").first.bounding_box()
        assert box is not None and box["width"] > 500 and box["height"] > 140, chart
    # The whole board fits a 1920x1080 wall screen: nothing scrolls but the tables, and
    # those only down: every column of the four tables is on screen.
    assert page.evaluate("document.documentElement.scrollHeight") <= WALL["height"]
    assert_fits_sideways(page)
    assert_no_overlap(page)
    # The agents now share the tiles' row; the agent states sit beside the two charts.
    tile = page.locator(".tile-agents").bounding_box()
    connected = page.locator(".tile-connected").bounding_box()
    states = page.locator(".area-states").bounding_box()
    queue_chart = page.locator(".area-queue-chart").bounding_box()
    assert tile and connected and states and queue_chart
    assert tile["y"] == connected["y"] and states["y"] == queue_chart["y"]
    assert states["height"] == queue_chart["height"]
    shot = tmp_path / "wallboard-1920x1080.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    print(f"wallboard screenshot: {shot}")


def test_changing_timeframe_and_interval_updates_the_numbers(page: Page, board: Server) -> None:
    open_board(page, board, timeframe=60, interval=15)
    timeframes, intervals = page.locator("#timeframes"), page.locator("#intervals")

    timeframes.get_by_role("radio", name="4 h", exact=True).check()
    wait_rendered(page, 240, 15)
    check_against_api(page, board, 240, 15)

    intervals.get_by_role("radio", name="60 min", exact=True).check()
    wait_rendered(page, 240, 60)
    check_against_api(page, board, 240, 60)

    # 60-minute intervals do not fit a 15-minute timeframe: the page falls back to 15.
    timeframes.get_by_role("radio", name="15 min", exact=True).check()
    wait_rendered(page, 15, 15)
    check_against_api(page, board, 15, 15)
    expect(intervals.get_by_role("radio", name="60 min", exact=True)).to_be_disabled()
    expect(intervals.get_by_role("radio", name="30 min", exact=True)).to_be_disabled()
    expect(intervals.get_by_role("radio", name="15 min", exact=True)).to_be_checked()

    timeframes.get_by_role("radio", name="24 h", exact=True).check()
    intervals.get_by_role("radio", name="5 min", exact=True).check()
    wait_rendered(page, 1440, 5)
    check_against_api(page, board, 1440, 5)
    assert_fits_sideways(page)  # a day's times (h:mm:ss) still fit the agent states
    assert_no_overlap(page)
    # The choice is in the address, so a wall screen can be pointed at it.
    assert "timeframe=1440" in page.url and "interval=5" in page.url


def test_skills_show_their_agents_sort_and_filter(page: Page, board: Server) -> None:
    open_board(page, board, timeframe=60, interval=15)
    skills = api(board, timeframe=60, skillIds="all")["skillsMetricsPerAgent"]["metricsPerSkill"]

    # Sorted by connected engagements, busiest first, by default.
    connected = [
        skills[s]["metricsTotals"]["connectedEngagements"] for s in row_ids(page, "skills")
    ]
    assert connected == sorted(connected, reverse=True)
    page.locator("#skills th[data-key=id] button").click()
    expect(page.locator("#skills th[data-key=id]")).to_have_attribute("aria-sort", "ascending")
    assert row_ids(page, "skills") == sorted(skills, key=int)
    page.locator("#skills th[data-key=id] button").click()
    assert row_ids(page, "skills") == sorted(skills, key=int, reverse=True)

    # Clicking a skill lists its agents, with the skill's own numbers per agent.
    page.locator('#skills tr[data-id="2"] button').click()
    expect(page.locator("#agents-title")).to_have_text("Agents of skill 2")
    assert "skill=2" in page.url
    assert table(page, "agents") == {
        agent: row_texts(m) for agent, m in skills["2"]["metricsPerAgent"].items()
    }
    # A refresh keeps the selection (the page refreshes on its own; force one here).
    page.locator("#settings button[type=submit]").click()
    expect(page.locator("#agents-title")).to_have_text("Agents of skill 2")

    page.locator("#agent-filter").fill("102")
    ids = row_ids(page, "agents")
    assert ids and all("102" in agent for agent in ids)
    assert set(ids) == {a for a in skills["2"]["metricsPerAgent"] if "102" in a}
    page.locator("#agent-filter").fill("")

    page.locator("#skill-chip").click()
    expect(page.locator("#agents-title")).to_have_text("Agents")
    agents = api(board, timeframe=60, agentIds="all")["agentsMetrics"]["metricsPerAgent"]
    assert set(row_ids(page, "agents")) == set(agents)

    page.locator("#skill-filter").fill("zzz")
    expect(page.locator("#skills + .empty")).to_have_text("No row matches the filter.")


def test_queue_panel_and_its_service_level(page: Page, board: Server) -> None:
    sla_asked: list[dict[str, list[str]]] = []
    page.on(
        "request",
        lambda r: sla_asked.append(parse_qs(urlsplit(r.url).query)) if "/sla?" in r.url else None,
    )
    thresholds = page.locator("#thresholds")
    open_board(page, board)  # no threshold in the address: 30 s
    expect(thresholds.get_by_role("radio", name="30 s", exact=True)).to_be_checked()
    assert sla_asked[-1]["histogram"] == ["0,30"] and sla_asked[-1]["timeframe"] == ["60"]
    assert "threshold=30" in page.url
    check_queue_against_api(page, board, 60, 15, 30)
    assert NO_DATA not in queue_stats(page)  # the fixture has queue traffic of every kind

    thresholds.get_by_role("radio", name="60 s", exact=True).check()
    wait_rendered(page, 60, 15, threshold=60)
    assert sla_asked[-1]["histogram"] == ["0,60"]
    assert "threshold=60" in page.url
    check_queue_against_api(page, board, 60, 15, 60)
    # The thresholds really show different numbers: 30 s and 60 s in this hour (the
    # switch above), and all four over the late-morning peak.
    assert sla_share(board, 60, 30) != sla_share(board, 60, 60)
    shares = [sla_share(board, 240, t) for t in (15, 30, 60, 120)]
    assert len(set(shares)) == 4

    # The address holds the threshold: a wall screen can be pointed at it.
    page.goto(f"{board.base_url}/?account={ACCOUNT}&timeframe=240&interval=30&threshold=120")
    wait_rendered(page, 240, 30, threshold=120)
    expect(thresholds.get_by_role("radio", name="120 s", exact=True)).to_be_checked()
    assert sla_asked[-1]["histogram"] == ["0,120"] and sla_asked[-1]["timeframe"] == ["240"]
    check_against_api(page, board, 240, 30, 120)
    # One the page does not offer falls back to 30 s.
    page.goto(f"{board.base_url}/?account={ACCOUNT}&timeframe=60&interval=15&threshold=45")
    wait_rendered(page, 60, 15, threshold=30)
    assert "threshold=30" in page.url


QUEUE_SORT_KEYS = {
    "waiting": "waiting",
    "slots": "slots",
    "enteredQEng": "entered",
    "connectedEng": "connected",
    "abandonedEng": "abandoned",
    "avgTimeToAnswer": "ata",
    "abandonmentRate": "rate",
    "averageQueueSize": "avg_queue",
    "maxQueueSize": "max_queue",
}


def test_queue_table_sorts_and_filters(page: Page, board: Server) -> None:
    open_board(page, board)
    health = queue_api(board, "queuehealth", timeframe=60, skillIds="all", interval=15)
    state = queue_api(board, "queuestate", skillIds="all")
    values = {
        skill: queue_values(health["skillsMetrics"].get(skill), state["skills"].get(skill))
        for skill in {*health["skillsMetrics"], *state["skills"]}
    }
    assert "-1" in values  # abandoned chats without a skill: no queue samples, dashes

    def ordered(key: str, descending: bool) -> list[str]:
        """The page's order: missing values lowest, ties by skill id."""
        sign = -1 if descending else 1

        def sort_key(skill: str) -> tuple[float, int]:
            value = values[skill][QUEUE_SORT_KEYS[key]]
            return (sign * (-1 if value is None else value), int(skill))

        return sorted(values, key=sort_key)

    # Most visitors waiting first by default.
    header = page.locator("#queue-skills thead")
    expect(header.locator("th[data-key=waiting]")).to_have_attribute("aria-sort", "descending")
    assert row_ids(page, "queue-skills") == ordered("waiting", True)
    for key in QUEUE_SORT_KEYS:
        if key == "waiting":
            continue
        header.locator(f"th[data-key={key}] button").click()
        expect(header.locator(f"th[data-key={key}]")).to_have_attribute("aria-sort", "descending")
        assert row_ids(page, "queue-skills") == ordered(key, True), key
    header.locator("th[data-key=maxQueueSize] button").click()
    expect(header.locator("th[data-key=maxQueueSize]")).to_have_attribute("aria-sort", "ascending")
    assert row_ids(page, "queue-skills") == ordered("maxQueueSize", False)
    header.locator("th[data-key=id] button").click()
    assert row_ids(page, "queue-skills") == sorted(values, key=int)

    page.locator("#queue-filter").fill("no skill")
    assert row_ids(page, "queue-skills") == ["-1"]
    page.locator("#queue-filter").fill("zzz")
    expect(page.locator("#queue-skills + .empty")).to_have_text("No row matches the filter.")


def test_missing_queue_data_shows_a_dash(page: Page, board: Server) -> None:
    # Skill 5: two visitors queued, one gave up, nobody answered, no queue samples.
    # Skill 6: only a queue sample, a minute ago: three waiting, no slot free.
    sparse = "sparse"
    events: list[Event] = [
        {"eventId": "q-1", "type": "queued", "time": NOW_MS - 10 * MIN, "skillId": 5},
        {"eventId": "q-2", "type": "queued", "time": NOW_MS - 9 * MIN, "skillId": 5},
        {"eventId": "a-1", "type": "abandoned", "time": NOW_MS - 8 * MIN, "skillId": 5,
         "waitTime": 120},
        {"eventId": "s-1", "type": "queueState", "time": NOW_MS - MIN, "skillId": 6,
         "queueSize": 3, "availableSlots": 0},
    ]  # fmt: skip
    assert board.send(sparse, events).status_code == 200
    page.goto(f"{board.base_url}/?account={sparse}&timeframe=60&interval=15")
    wait_rendered(page, 60, 15, account=sparse)
    check_queue_against_api(page, board, 60, 15, account=sparse)
    # Waiting, slots free, answered < 30 s, time to answer, abandonment, entered,
    # connected, abandoned: nobody was answered, so no share and no time to answer.
    assert queue_stats(page) == ["3", "0", NO_DATA, NO_DATA, "100%", "2", "0", "1"]
    assert table(page, "queue-skills") == {
        "5": [NO_DATA, NO_DATA, "2", "0", "1", NO_DATA, "100%", NO_DATA, NO_DATA],
        "6": ["3", "0", "0", "0", "0", NO_DATA, NO_DATA, "3.0", "3"],
    }
    chart = queue_chart_rows(page)
    assert chart[-1][1:] == (3.0, 3.0)
    assert all(row[1:] == (None, None) for row in chart[:-1]) and len(chart) > 1
    hidden = page.locator("#queue-chart-data tbody tr").first.locator("td")
    expect(hidden).to_have_text([NO_DATA, NO_DATA])
    assert "-1" not in page.locator("main").inner_text()

    # An account with nothing at all: counts of 0, dashes for everything else.
    page.locator("#account").fill("nobody")
    page.locator("#settings button[type=submit]").click()
    wait_rendered(page, 60, 15, account="nobody")
    check_queue_against_api(page, board, 60, 15, account="nobody")
    assert queue_stats(page) == [NO_DATA] * 5 + ["0", "0", "0"]
    expect(page.locator("#queue-skills + .empty")).to_have_text(
        "No skill had queue activity in this timeframe."
    )
    assert all(row[1:] == (None, None) for row in queue_chart_rows(page))
    assert "-1" not in page.locator("main").inner_text()


AGENT_STATE_SORT_KEYS = ["online", "backSoon", "away", "loggedIn", "occupancy", "fullCapacity"]


def test_agent_states_sort_and_filter(page: Page, board: Server) -> None:
    open_board(page, board)
    values = check_agents_against_api(page, board, 60)
    assert len(values) > 10, "the demo's agents log in, go away and chat"
    # The demo's agents take every state, go away for reasons and fill their slots.
    for key in ["online", "backSoon", "away", "fullCapacity"]:
        assert any(v[key] for v in values.values()), key
    assert any(v["reasons"] for v in values.values())

    def ordered(key: str, descending: bool) -> list[str]:
        """The page's order: missing values lowest, ties by agent id."""
        sign = -1 if descending else 1

        def sort_key(agent: str) -> tuple[float, int]:
            value = values[agent][key]
            return (sign * (-1 if value is None else value), int(agent))

        return sorted(values, key=sort_key)

    header = page.locator("#agent-states thead")
    # Longest logged in first by default.
    expect(header.locator("th[data-key=loggedIn]")).to_have_attribute("aria-sort", "descending")
    assert row_ids(page, "agent-states") == ordered("loggedIn", True)
    for key in AGENT_STATE_SORT_KEYS:
        if key == "loggedIn":
            continue
        header.locator(f"th[data-key={key}] button").click()
        expect(header.locator(f"th[data-key={key}]")).to_have_attribute("aria-sort", "descending")
        assert row_ids(page, "agent-states") == ordered(key, True), key
    header.locator("th[data-key=fullCapacity] button").click()
    expect(header.locator("th[data-key=fullCapacity]")).to_have_attribute("aria-sort", "ascending")
    assert row_ids(page, "agent-states") == ordered("fullCapacity", False)
    header.locator("th[data-key=id] button").click()
    assert row_ids(page, "agent-states") == sorted(values, key=int)

    some = sorted(values, key=int)[0]
    page.locator("#state-filter").fill(some[-2:])
    ids = row_ids(page, "agent-states")
    assert ids and set(ids) == {a for a in values if some[-2:] in a}
    page.locator("#state-filter").fill(f"agent {some}")
    assert row_ids(page, "agent-states") == [some]
    page.locator("#state-filter").fill("zzz")
    expect(page.locator("#agent-states + .empty")).to_have_text("No row matches the filter.")
    # A refresh keeps the filter and the order.
    page.locator("#state-filter").fill(some[-2:])
    page.locator("#settings button[type=submit]").click()
    wait_rendered(page, 60, 15)
    assert row_ids(page, "agent-states") == [a for a in sorted(values, key=int) if some[-2:] in a]


def agent_state(event_id: str, minutes_ago: float, agent: int, state: str, **more: object) -> Event:
    return {
        "eventId": event_id,
        "type": "agentState",
        "time": NOW_MS - round(minutes_ago * MIN),
        "agentId": agent,
        "state": state,
        **more,
    }


def test_agents_now_and_states_of_known_events(page: Page, board: Server) -> None:
    """Hand-made timelines whose answers are worked out here, in the window 12:29-13:29."""
    shift = "shift"
    events = [
        # Agent 1: online, at full capacity (2 of 2 chats) for 10 minutes, chatting for 20,
        # away for two reasons 5 minutes each, online again, back soon for the last 30 s.
        agent_state("1-a", 50, 1, "online", activeChats=0, maxChats=2),
        agent_state("1-b", 40, 1, "online", activeChats=2, maxChats=2),
        agent_state("1-c", 30, 1, "online", activeChats=1, maxChats=2),
        agent_state("1-d", 20, 1, "away", reasonId="7"),
        agent_state("1-e", 15, 1, "away", reasonId=9),
        agent_state("1-f", 10, 1, "online", maxChats=2),
        agent_state("1-g", 0.5, 1, "backSoon"),
        # Agent 2: online and chatting for two hours, no chat limit: never at full capacity.
        agent_state("2-a", 120, 2, "online", activeChats=3),
        # Agent 3: online without chats, logged out 5 minutes ago.
        agent_state("3-a", 45, 3, "online", maxChats=1),
        agent_state("3-b", 5, 3, "loggedOut"),
        # Agent 4: away without a reason for half an hour.
        agent_state("4-a", 30, 4, "away"),
        # Agent 5: logged in for half a second of the window: listed, with 0 s everywhere.
        agent_state("5-a", 70, 5, "online", activeChats=1),
        {**agent_state("5-b", 60, 5, "loggedOut"), "time": NOW_MS - 60 * MIN + 500},
    ]
    assert board.send(shift, events).status_code == 200
    page.goto(f"{board.base_url}/?account={shift}&timeframe=60&interval=15")
    wait_rendered(page, 60, 15, account=shift)
    check_agents_against_api(page, board, 60, account=shift)
    # In the last minute: agents 1 (online, then back soon) and 2 online, agent 1 back
    # soon, agent 4 away; three agents logged in (agent 3 left 5 minutes ago).
    assert now_stats(page) == ["2", "1", "1", "3"]
    # Online, back soon, away, logged in, occupancy, at full capacity.
    assert table(page, "agent-states") == {
        "1": ["39:30", "0:30", "10:00", "50:00", "40%", "10:00"],
        "2": ["1:00:00", "0:00", "0:00", "1:00:00", "100%", "0:00"],
        "3": ["40:00", "0:00", "0:00", "40:00", "0%", "0:00"],
        "4": ["0:00", "0:00", "30:00", "30:00", "0%", "0:00"],
        "5": ["0:00", "0:00", "0:00", "0:00", NO_DATA, "0:00"],
    }
    assert away_titles(page) == {
        "1": "Reason 7: 5:00\nReason 9: 5:00",
        "2": "",
        "3": "",
        "4": "",
        "5": "",
    }
    away = page.locator('#agent-states tr[data-id="1"] td').nth(2)
    expect(away).to_have_class(re.compile(r"\bhas-title\b"))
    expect(page.locator('#agent-states tr[data-id="4"] td').nth(2)).not_to_have_class(
        re.compile(r"\bhas-title\b")
    )
    # In the last 15 minutes agent 3 worked 10 and agent 5 none; agent 1 was away 5 of them,
    # with reason 9.
    page.locator("#timeframes").get_by_role("radio", name="15 min", exact=True).check()
    wait_rendered(page, 15, 15, account=shift)
    check_agents_against_api(page, board, 15, account=shift)
    assert set(row_ids(page, "agent-states")) == {"1", "2", "3", "4"}
    assert table(page, "agent-states")["3"] == ["10:00", "0:00", "0:00", "10:00", "0%", "0:00"]
    assert away_titles(page)["1"] == "Reason 9: 5:00"

    # Nobody at all: counts of 0, the table's own message, never -1.
    page.locator("#account").fill("nobody")
    page.locator("#settings button[type=submit]").click()
    wait_rendered(page, 15, 15, account="nobody")
    check_agents_against_api(page, board, 15, account="nobody")
    assert now_stats(page) == ["0", "0", "0", "0"]
    expect(page.locator("#agent-states + .empty")).to_have_text(
        "No agent was logged in in this timeframe."
    )
    assert "-1" not in page.locator("main").inner_text()


def test_queue_method_errors_show_like_the_others(page: Page, board: Server) -> None:
    busy = [True]

    def unavailable(route: Route) -> None:
        if busy[0]:
            route.fulfill(
                status=503,
                headers={"Retry-After": "1"},
                json={"error": "unavailable", "message": "the store is not available"},
            )
        else:
            route.continue_()

    page.route("**/operations/api/account/*/queuestate?*", unavailable)
    page.route(
        "**/operations/api/account/*/sla?*",
        lambda route: route.fulfill(
            status=400, json={"error": "invalid_parameter", "message": "histogram: no"}
        ),
    )
    page.goto(f"{board.base_url}/?account={ACCOUNT}")
    error = page.locator("#error")
    # Whichever answer comes first decides; both are shown like the page's other errors.
    expect(error).to_have_attribute("data-kind", re.compile("^error-(unavailable|request)$"))
    page.unroute("**/operations/api/account/*/sla?*")
    page.locator("#retry").click()
    expect(error).to_have_attribute("data-kind", "error-unavailable")
    expect(error).to_contain_text("The server is busy (503)")
    busy[0] = False
    page.locator("#retry").click()
    wait_rendered(page, 60, 15)
    expect(error).to_be_hidden()
    check_queue_against_api(page, board, 60, 15)


@pytest.fixture
def locked_board(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    """A server of its own with an hour of demo traffic and a read key for ``demo``:
    from that key on, every API call needs credentials."""
    srv = Server(tmp_path).start()
    try:
        events = list(generate_events(DEMO_CONFIG, NOW_MS - 60 * MIN, NOW_MS))
        assert srv.send(ACCOUNT, events).status_code == 200
        token = create_key(srv.store_url, ACCOUNT, "read", kind="bearer")["token"]
        yield srv, token
    finally:
        srv.stop()


def test_invalid_key_shows_the_error(page: Page, locked_board: tuple[Server, str]) -> None:
    # Real refusals by the server: no key, then a bad one, then the good one.
    srv, token = locked_board
    sent: list[str | None] = []
    page.on(
        "request",
        lambda request: (
            sent.append(request.headers.get("authorization"))
            if "/engactivity?" in request.url
            else None
        ),
    )
    freeze_clock(page)
    page.goto(f"{srv.base_url}/?account={ACCOUNT}&timeframe=60&interval=15")
    error = page.locator("#error")
    expect(error).to_have_attribute("data-kind", "error-auth")
    assert set(sent) == {None}  # no key, no Authorization header

    page.locator("#key").fill("bad-key")
    page.locator("#settings button[type=submit]").click()
    expect(error).to_be_visible()
    expect(error).to_have_attribute("data-kind", "error-auth")
    expect(error).to_contain_text("The key was refused (401)")
    expect(error).to_contain_text("the credentials are not valid")
    assert "Bearer bad-key" in sent
    # The key is kept in the browser's local storage, never in the address.
    stored = page.evaluate("localStorage.getItem('engactivity.wallboard.key')")
    assert stored == "bad-key"
    assert "bad-key" not in page.url
    # A refused key stops the polling: nothing more is asked until the user acts.
    asked = len(sent)
    page.clock.run_for(60_000)
    assert len(sent) == asked

    page.locator("#key").fill(token)
    page.locator("#settings button[type=submit]").click()
    expect(error).to_be_hidden()
    wait_rendered(page, 60, 15)
    assert sent[-1] == f"Bearer {token}"
    answer = httpx.get(
        f"{srv.base_url}/operations/api/account/{ACCOUNT}/engactivity",
        params={"timeframe": 60, "interval": 15, "v": 1},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200
    assert tiles(page) == expected_tiles(answer.json()["metricsTotals"])


def test_forbidden_account_shows_the_error(page: Page, locked_board: tuple[Server, str]) -> None:
    # A real 403: the key reads account demo, the page asks for account other.
    srv, token = locked_board
    page.goto(f"{srv.base_url}/?account={ACCOUNT}")
    page.evaluate(f"localStorage.setItem('engactivity.wallboard.key', {token!r})")
    page.goto(f"{srv.base_url}/?account=other")
    expect(page.locator("#error")).to_have_attribute("data-kind", "error-forbidden")
    expect(page.locator("#error")).to_contain_text("This key may not read account other")
    expect(page.locator("#error")).to_contain_text("this key may not read account other")


def test_too_many_requests_backs_off_then_recovers(page: Page, board: Server) -> None:
    # The server's limit is per account and needs 64 requests in flight: stub the 429.
    calls: list[str] = []
    busy = [True]

    def limited(route: Route) -> None:
        calls.append(route.request.url)
        if busy[0]:
            route.fulfill(
                status=429,
                headers={"Retry-After": "1"},
                json={"error": "too_many_requests", "message": "slow down", "limit": 64},
            )
        else:
            route.continue_()

    page.route(API_GLOB, limited)
    freeze_clock(page)
    page.goto(f"{board.base_url}/?account={ACCOUNT}&timeframe=60&interval=15")
    error = page.locator("#error")
    expect(error).to_have_attribute("data-kind", "error-rate")
    expect(error).to_contain_text("Too many requests (429)")
    expect(error).to_contain_text("retrying in 2 s")
    first_burst = len(calls)  # the three queries of one refresh
    # Backing off: at least Retry-After, here the first step of the backoff, 2 s (+ jitter).
    page.clock.run_for(1_900)
    assert len(calls) == first_burst
    busy[0] = False
    page.clock.run_for(600)
    wait_rendered(page, 60, 15)
    expect(error).to_be_hidden()
    check_against_api(page, board, 60, 15)


def test_network_error_shows_the_error(page: Page, board: Server) -> None:
    page.route(API_GLOB, lambda route: route.abort("connectionrefused"))
    page.goto(f"{board.base_url}/?account={ACCOUNT}")
    error = page.locator("#error")
    expect(error).to_have_attribute("data-kind", "error-network")
    expect(error).to_contain_text("Cannot reach the server")


def test_refreshes_every_5_s_and_pauses_when_hidden(page: Page, board: Server) -> None:
    # The page's timers run on a paused fake clock; visibility is driven by the test.
    page.add_init_script(
        """
        window.__hidden = false;
        Object.defineProperty(document, 'hidden', {get: () => window.__hidden});
        Object.defineProperty(document, 'visibilityState',
            {get: () => (window.__hidden ? 'hidden' : 'visible')});
        """
    )
    freeze_clock(page)
    without_push(page)  # the streams' fallback: a poll every 5 s
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/engactivity?" in r.url else None)
    open_board(page, board)
    body = page.locator("body")
    expect(body).to_have_attribute("data-refreshes", "1")
    expect(body).to_have_attribute("data-push", "polling")

    page.clock.run_for(4_000)
    assert page.locator("body").get_attribute("data-refreshes") == "1"
    page.clock.run_for(1_500)
    expect(body).to_have_attribute("data-refreshes", "2")

    page.evaluate("window.__hidden = true; document.dispatchEvent(new Event('visibilitychange'))")
    expect(page.locator("#updated")).to_contain_text("paused while hidden")
    asked = len(requests)
    page.clock.run_for(60_000)
    assert len(requests) == asked
    assert body.get_attribute("data-refreshes") == "2"

    page.evaluate("window.__hidden = false; document.dispatchEvent(new Event('visibilitychange'))")
    expect(body).to_have_attribute("data-refreshes", "3")  # at once, without waiting 5 s
    expect(page.locator("#updated")).not_to_contain_text("paused")


def test_pushed_data_shows_without_waiting_for_a_poll(page: Page, tmp_path: Path) -> None:
    srv = Server(tmp_path, extra_args=["--push-period-ms", "200"]).start()
    try:
        sent = [connected(f"p-{n}", NOW_MS - 5 * MIN) for n in range(3)]
        assert srv.send(ACCOUNT, sent).status_code == 200
        freeze_clock(page)  # the page's timers stand still: no poll can come
        open_board(page, srv)
        body = page.locator("body")
        expect(body).to_have_attribute("data-push", "live")
        expect(page.locator("#total-connected")).to_have_text("3")
        more = [connected(f"q-{n}", NOW_MS - 4 * MIN) for n in range(4)]
        assert srv.send(ACCOUNT, more).status_code == 200
        expect(page.locator("#total-connected")).to_have_text("7", timeout=5_000)
        assert int(body.get_attribute("data-refreshes") or 0) >= 2
        expect(page.locator("#error")).to_be_hidden()
    finally:
        srv.stop()


def connected(event_id: str, at: int) -> Event:
    return {"eventId": event_id, "type": "connected", "time": at, "agentId": 1, "skillId": 2}


def test_a_refused_stream_falls_back_to_polling(page: Page, board: Server) -> None:
    freeze_clock(page)
    without_push(page)
    open_board(page, board)
    body = page.locator("body")
    expect(body).to_have_attribute("data-push", "polling")
    page.clock.run_for(5_500)
    expect(body).to_have_attribute("data-refreshes", "2")
    expect(page.locator("#error")).to_be_hidden()


def test_demo_numbers_move(page: Page, tmp_path: Path) -> None:
    """`make run`: the demo account shows numbers at once, and they move as time goes on."""
    srv = Server(tmp_path, extra_args=["--demo"]).start()
    try:
        # The demo prints a read key for 'demo'; the page gets it as a user would give it.
        found = re.search(r"Bearer (ea_[\w-]+)", srv.log_path.read_text())
        assert found is not None
        token = found.group(1)

        def api(srv: Server, **params: object) -> Any:
            answer = httpx.get(
                f"{srv.base_url}/operations/api/account/{ACCOUNT}/engactivity",
                params={"v": 1, **params},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert answer.status_code == 200, answer.text
            return answer.json()

        srv.wait_demo_backfilled()  # its history reaches now: the latest bucket has chats
        assert api(srv, timeframe=1)["metricsTotals"]["connectedEngagements"] > 0
        freeze_clock(page)
        page.goto(f"{srv.base_url}/")
        page.evaluate(f"localStorage.setItem('engactivity.wallboard.key', {token!r})")
        page.goto(f"{srv.base_url}/")  # no parameters: account demo, 1 h, 15 min
        wait_rendered(page, 60, 15)
        connected = page.locator("#total-connected")
        expect(connected).to_have_text(re.compile(r"^[1-9][\d,]*$"))
        before = api(srv, timeframe=60)["metricsTotals"]
        srv.set_now(NOW_MS + 3 * MIN)  # the live simulator sends what happened meanwhile
        deadline = time.monotonic() + 60  # a stop for a hung demo, no speed check
        while api(srv, timeframe=60)["metricsTotals"] == before:
            assert time.monotonic() < deadline, "the demo sent no live traffic"
            time.sleep(0.1)
        shown = connected.inner_text()
        page.clock.run_for(5_500)
        expect(connected).not_to_have_text(shown)
    finally:
        srv.stop()


def test_laptop_screen_keeps_everything_reachable(browser: Browser, board: Server) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    try:
        page = context.new_page()
        open_board(page, board)
        # No sideways scrolling; the big numbers stay big.
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366
        size = page.locator("#total-connected").evaluate("e => getComputedStyle(e).fontSize")
        assert float(size.removesuffix("px")) >= 40
        page.locator('#skills tr[data-id="1"] button').click()
        expect(page.locator("#agents-title")).to_have_text("Agents of skill 1")
        # The page scrolls down to the queue table, which shows every column.
        page.locator('#queue-skills tr[data-id="1"]').scroll_into_view_if_needed()
        expect(page.locator('#queue-skills tr[data-id="1"]')).to_be_in_viewport()
        # The agents now: a strip of their own under the tiles; the agent states table
        # below skills and agents, full width, every column on screen.
        tile = page.locator(".tile-agents").bounding_box()
        aht = page.locator(".tile-aht").bounding_box()
        assert tile and aht and tile["y"] >= aht["y"] + aht["height"]
        first = page.locator("#agent-states tbody tr").first
        first.scroll_into_view_if_needed()
        expect(first).to_be_in_viewport()
        assert_fits_sideways(page)
        assert_no_overlap(page)
    finally:
        context.close()


# -- names from the account's configuration ------------------------------------------------

UNNAMED_SKILL = 8
"""The named board's configuration leaves this skill out: the page shows its id."""


@dataclass
class Named:
    server: Server
    config: dict[str, Any]
    """The configuration written: the demo's, without skill 8 and one agent."""
    unnamed_agent: int


@pytest.fixture(scope="module")
def named_board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Named]:
    """An hour of the demo's traffic and the demo's configuration, less a skill and an agent."""
    srv = Server(tmp_path_factory.mktemp("named")).start()
    try:
        events = list(generate_events(DEMO_CONFIG, NOW_MS - 60 * MIN, NOW_MS))
        assert srv.send(ACCOUNT, events).status_code == 200
        agents = Counter(e["agentId"] for e in events if e["type"] == "connected")
        unnamed = sorted(agents)[0]
        config = account_configuration(DEMO_CONFIG)
        config["skills"] = [s for s in config["skills"] if s["id"] != UNNAMED_SKILL]
        config["users"] = [u for u in config["users"] if u["id"] != unnamed]
        written = httpx.post(f"{srv.base_url}/api/v1/accounts/{ACCOUNT}/configuration", json=config)
        assert written.status_code == 200, written.text
        yield Named(srv, config, unnamed)
    finally:
        srv.stop()


def heads(page: Page, table_id: str) -> dict[str, tuple[str, str | None]]:
    """The first cell of each row: id -> (the name, the detail after it or None). An
    agent's name too wide for its column is shown short ("Ana S."): checked here, and
    the whole name returned."""
    rows: list[dict[str, Any]] = page.eval_on_selector_all(
        f"#{table_id} tbody tr",
        "rows => rows.map(r => { const n = r.cells[0].querySelector('.name');"
        " return {id: r.dataset.id, shown: n.textContent, full: n.dataset.full,"
        " short: n.dataset.short, detail: (r.cells[0].querySelector('.detail') || {})"
        ".textContent}; })",
    )
    for row in rows:
        if row.get("full") is not None:
            assert row["shown"] in (row["full"], row["short"]), row
            first, *_, last = row["full"].split()
            assert row["short"] == f"{first} {last[0]}."
    return {row["id"]: (row.get("full") or row["shown"], row.get("detail")) for row in rows}


def expected_skill(named: Named, skill: str) -> str:
    names = {str(s["id"]): s["name"] for s in named.config["skills"]}
    return names.get(skill, "No skill" if skill == "-1" else f"Skill {skill}")


def expected_agent(named: Named, agent: str, group: bool = True) -> tuple[str, str | None]:
    """The agent's name, and (in the agent states) its group's."""
    users = {str(u["id"]): u for u in named.config["users"]}
    groups = {g["id"]: g["name"] for g in named.config["agentGroups"]}
    user = users.get(agent)
    if user is None:
        return f"Agent {agent}", None
    return user["fullName"], groups[user["memberOf"]["agentGroupId"]] if group else None


def open_named(page: Page, named: Named) -> None:
    open_board(page, named.server)
    expect(page.locator("body")).to_have_attribute("data-names", re.compile(r"^[1-9]\d*$"))


def test_names_replace_ids_wherever_they_are_known(page: Page, named_board: Named) -> None:
    open_named(page, named_board)
    skills = heads(page, "skills")
    assert str(UNNAMED_SKILL) in skills, "the demo's skill 8 has chats in the hour"
    assert skills == {s: (expected_skill(named_board, s), None) for s in skills}
    assert skills["1"][0] == "Sales" and skills[str(UNNAMED_SKILL)][0] == f"Skill {UNNAMED_SKILL}"
    queue = heads(page, "queue-skills")
    assert queue == {s: (expected_skill(named_board, s), None) for s in queue}
    for table_id in ("agents", "agent-states"):
        agents = heads(page, table_id)
        grouped = table_id == "agent-states"
        assert agents == {a: expected_agent(named_board, a, grouped) for a in agents}, table_id
        assert agents[str(named_board.unnamed_agent)] == (
            f"Agent {named_board.unnamed_agent}",
            None,
        )
    # The numbers are the API's, names or not.
    check_against_api(page, named_board.server, 60, 15)
    # The id stays at hand, in the tooltip.
    agent = str(named_board.config["users"][0]["id"])
    title = page.locator(f'#agents tr[data-id="{agent}"] .name').get_attribute("title")
    assert title and title.endswith(f"(id {agent})")
    assert_fits_sideways(page)


def test_named_skills_sort_filter_and_select(page: Page, named_board: Named) -> None:
    open_named(page, named_board)
    page.locator("#skills th[data-key=id] button").click()
    shown = [name for name, _ in heads(page, "skills").values()]
    assert list(heads(page, "skills")) == row_ids(page, "skills")
    assert shown == sorted(shown, key=str.casefold)  # by name now, not by id
    page.locator("#skill-filter").fill("bill")
    assert row_ids(page, "skills") == ["2"]
    page.locator("#skill-filter").fill("")

    page.locator('#skills tr[data-id="2"] button').click()
    expect(page.locator("#agents-title")).to_have_text("Agents of Billing")
    expect(page.locator("#skill-chip")).to_have_text("Billing ✕")
    page.locator(f'#skills tr[data-id="{UNNAMED_SKILL}"] button').click()
    expect(page.locator("#agents-title")).to_have_text(f"Agents of skill {UNNAMED_SKILL}")

    # Agents are found by their name; in the agent states by their group's too.
    page.locator("#skill-chip").click()
    first = row_ids(page, "agents")[0]
    last_name = heads(page, "agents")[first][0].split()[1]
    page.locator("#agent-filter").fill(last_name.upper())
    found = heads(page, "agents")
    assert first in found and all(last_name in name for name, _ in found.values())
    group = named_board.config["agentGroups"][0]["name"]
    page.locator("#state-filter").fill(group.lower())
    ids = row_ids(page, "agent-states")
    assert ids and all(expected_agent(named_board, a)[1] == group for a in ids)


def test_a_renamed_skill_shows_its_new_name(page: Page, named_board: Named) -> None:
    open_named(page, named_board)
    url = f"{named_board.server.base_url}/api/v1/accounts/{ACCOUNT}/configuration"
    renamed = {"skills": [{"id": 1, "name": "Sales & Renewals"}]}
    try:
        revision = httpx.post(url, json=renamed).json()["revision"]
        page.locator("#settings button[type=submit]").click()  # Show reads the names again
        expect(page.locator("body")).to_have_attribute("data-names", str(revision))
        expect(page.locator('#skills tr[data-id="1"] .name')).to_have_text("Sales & Renewals")
        expect(page.locator('#queue-skills tr[data-id="1"] .name')).to_have_text("Sales & Renewals")
    finally:
        httpx.post(url, json={"skills": [{"id": 1, "name": "Sales"}]})


def test_names_are_read_again_every_minute(page: Page, named_board: Named) -> None:
    freeze_clock(page)
    without_push(page)
    open_named(page, named_board)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/le-users/" in r.url else None)
    body = page.locator("body")
    for refresh in range(2, 14):  # one refresh every 5 s, each waited for
        if refresh == 13:
            assert asked == [], "not before a minute has passed"
        page.clock.run_for(5_000)
        expect(body).to_have_attribute("data-refreshes", str(refresh))
    deadline = time.monotonic() + 10
    while len(asked) < 3:
        assert time.monotonic() < deadline, asked
        page.wait_for_timeout(50)
    assert {urlsplit(u).path.rsplit("/", 1)[1] for u in asked} == {"skills", "users", "agentGroups"}
    query = parse_qs(urlsplit(next(u for u in asked if "/users?" in u)).query)
    assert query["include_deleted"] == ["true"]  # a deleted agent's chats still count


def test_without_a_configuration_ids_are_shown(page: Page, board: Server) -> None:
    open_board(page, board)
    expect(page.locator("body")).to_have_attribute("data-names", "0")
    skills = heads(page, "skills")
    assert skills == {s: ("No skill" if s == "-1" else f"Skill {s}", None) for s in skills}
    agents = heads(page, "agents")
    assert agents == {a: (f"Agent {a}", None) for a in agents}
