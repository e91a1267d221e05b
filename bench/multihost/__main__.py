"""``python -m bench.multihost``: build the deployment, run both scenarios, report.

Run inside the producers' namespace by scripts/scale-test, which makes the network
first and removes it afterwards whatever happens. Prints one JSON object of figures
(also written to ``--report``) and exits 1 unless every answer and total is exact,
both failures were seen to happen and the memory cap evicted accounts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench.multihost.deployment import Deployment
from bench.multihost.progress import say
from bench.multihost.scenarios import Timing, exactness, failover, host_killed

KILL_ACCOUNTS = ["kill-0", "kill-1"]
FAILOVER_ACCOUNTS = ["failover-0", "failover-1"]


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--producers", type=int, default=2, help="per account (2 accounts)")
    parser.add_argument("--batch", type=int, default=100, help="events per batch")
    parser.add_argument("--before", type=float, default=10, help="seconds of load first")
    parser.add_argument("--down", type=float, default=10, help="seconds api1 stays dead")
    parser.add_argument("--promote-after", type=float, default=2, help="seconds, primary stopped")
    parser.add_argument("--after", type=float, default=10, help="seconds of load after repair")
    parser.add_argument(
        "--memory-mb", type=int, default=1, help="each API host's cap: forces evictions"
    )
    parser.add_argument("--report", type=Path, help="also write the figures here (JSON)")
    parser.add_argument("--keep", action="store_true", help="keep the data and logs folder")
    return parser.parse_args()


def _scenarios(dep: Deployment, args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    report["settings"] = {k: v for k, v in vars(args).items() if k not in ("report", "keep")}
    dep.build(KILL_ACCOUNTS + FAILOVER_ACCOUNTS, args.memory_mb)
    say("scenario a: api1 killed (SIGKILL) under load, restarted; then the checks")
    timing = Timing(args.before, args.down, args.after)
    report["host_killed"], killed = host_killed(
        dep, KILL_ACCOUNTS, args.producers, args.batch, timing
    )
    say("scenario b: primary stopped (immediate), replica promoted, under load; checks")
    timing = Timing(args.before, args.promote_after, args.after)
    report["failover"], _ = failover(dep, FAILOVER_ACCOUNTS, args.producers, args.batch, timing)
    # what was acknowledged before the failover is still there, once, on the new primary
    say("scenario a's totals again, on the promoted replica")
    report["host_killed_after_failover"] = exactness(dep, killed, None)
    report["memory"] = dep.memory()
    return report


def main() -> None:
    args = _arguments()
    # SIGTERM unwinds like Ctrl-C, through the finally below
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    folder = Path(tempfile.mkdtemp(prefix="eas-scale-", dir="/tmp"))  # eas-: ours
    os.chmod(folder, 0o755)  # the postgres user makes its data folders inside
    dep = Deployment(folder)
    exact = interrupted = False
    try:
        report = _scenarios(dep, args)
        exact = all(
            report[name]["totals_exact"]
            for name in ("host_killed", "failover", "host_killed_after_failover")
        )
        observed = all(report[name]["failure_observed"] for name in ("host_killed", "failover"))
        report["all_totals_exact"] = exact
        # the cap was small enough: accounts were evicted (and read again) during the run
        exact = exact and observed and report["memory"]["evictions"] > 0
        text = orjson.dumps(report, option=orjson.OPT_INDENT_2).decode()
        print(text)
        if args.report:
            args.report.write_text(text + "\n")
    except (KeyboardInterrupt, SystemExit):
        interrupted = True
        raise
    finally:
        dep.tear_down()
        if args.keep or not (exact or interrupted):
            print(f"logs and data kept in {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder)
    sys.exit(0 if exact else 1)


if __name__ == "__main__":
    main()
