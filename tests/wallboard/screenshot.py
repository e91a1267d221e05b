"""docs/wallboard.png: the wallboard with the demo account at 1920x1080.

    .venv/bin/python -m tests.wallboard.screenshot [docs/wallboard.png]

``serve --demo`` with its clock pinned at the tests' NOW_MS (13:29 UTC, a busy hour), in
Debian's chromium. The store is first loaded with the same day of demo traffic the tests
use, so the whole day is there when the page loads; the demo's own backfill then finds
every event already there.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from engactivity.simulate import DAY_MS, DEMO_CONFIG, generate_events
from tests.conftest import NOW_MS, Server
from tests.wallboard.test_wallboard import ACCOUNT, CHROMIUM, CHROMIUM_ARGS, WALL


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        srv = Server(Path(tmp)).start()
        try:
            events = list(generate_events(DEMO_CONFIG, NOW_MS - DAY_MS, NOW_MS))
            for start in range(0, len(events), 5000):
                answer = srv.send(ACCOUNT, events[start : start + 5000])
                assert answer.status_code == 200, answer.text
        finally:
            srv.stop()
        srv.extra_args = ["--demo"]
        srv.start()
        try:
            found = re.search(r"Bearer (ea_[\w-]+)", srv.log_path.read_text())
            assert found is not None, "serve --demo printed no read key"
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                context = browser.new_context(viewport=WALL, locale="en-US", timezone_id="UTC")
                page = context.new_page()
                page.clock.set_fixed_time(NOW_MS / 1000)
                page.goto(f"{srv.base_url}/")
                page.evaluate(f"localStorage.setItem('engactivity.wallboard.key', {found[1]!r})")
                page.goto(f"{srv.base_url}/?account={ACCOUNT}&timeframe=60&interval=15")
                page.wait_for_selector("body[data-rendered][data-state=ok]")
                page.screenshot(path=str(out))
                browser.close()
        finally:
            srv.stop()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/wallboard.png"))
