"""Clients written for the hosted API call the queue methods unmodified.

The script below is a client as LivePerson's published Python samples and the data
pipelines built on them write it: ``requests`` with ``requests_oauthlib.OAuth1``, the
host found by domain discovery, a JSON content type even on GET, parameters as a query
string, and the same request again as a JSON body with ``null`` for what is absent. It
runs as its own process with only the discovery host and the key in its environment;
its answers must be the oracle's.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from typing import Any

import requests

from tests import oracle_queue
from tests.api.test_queue import make_events
from tests.auth.keyhelp import create_key, oauth1
from tests.conftest import NOW_MS, Server

ACCOUNT = "90412233"

CLIENT = r"""
import json, os, sys
import requests
from requests_oauthlib import OAuth1

account = os.environ["LP_ACCOUNT"]
domain = requests.get(
    f"http://{os.environ['LP_DISCOVERY']}/api/account/{account}"
    "/service/leDataReporting/baseURI.json?version=1.0"
).json()["baseURI"]
oauth = OAuth1(
    os.environ["LP_APP_KEY"],
    client_secret=os.environ["LP_SECRET"],
    resource_owner_key=os.environ["LP_ACCESS_TOKEN"],
    resource_owner_secret=os.environ["LP_ACCESS_TOKEN_SECRET"],
    signature_method="HMAC-SHA1",
    signature_type="auth_header",
)
client = requests.session()
headers = {"content-type": "application/json"}
calls = [
    ("queuehealth", {"timeframe": 1440, "v": 1, "skillIds": "all", "interval": 60}),
    ("queuehealth", {"timeframe": 60, "v": 1}),
    ("queuestate", {"v": 1, "skillIds": "all"}),
    ("sla", {"timeframe": 1440, "v": 1, "skillIds": "1,2", "groupIds": "all",
             "histogram": "0,15,30,45,60,90,120"}),
]
out = []
for method, params in calls:
    url = f"http://{domain}/operations/api/account/{account}/{method}"
    got = client.get(url=url, headers=headers, auth=oauth, params=params)
    got.raise_for_status()
    body = dict.fromkeys(["timeframe", "skillIds", "groupIds", "interval", "histogram"])
    body.update(params)
    again = client.post(url=url, headers=headers, auth=oauth, data=json.dumps(body))
    again.raise_for_status()
    out.append([got.json(), again.json()])
json.dump(out, sys.stdout)
"""

CALLS: list[tuple[str, dict[str, object]]] = [
    ("queuehealth", {"timeframe": 1440, "skillIds": "all", "interval": 60}),
    ("queuehealth", {"timeframe": 60}),
    ("queuestate", {"skillIds": "all"}),
    ("sla", {"timeframe": 1440, "skillIds": "1,2", "groupIds": "all"}),
]
ORACLES = {
    "queuehealth": oracle_queue.queuehealth,
    "queuestate": oracle_queue.queuestate,
    "sla": oracle_queue.sla,
}


def test_a_published_style_client_reads_the_queue_methods(server: Server) -> None:
    key = create_key(server.store_url, ACCOUNT, "read,write")
    events = make_events(random.Random(21), 600)
    sent = requests.post(
        f"{server.base_url}/api/v1/accounts/{ACCOUNT}/events",
        json=events,
        auth=oauth1(key),
        timeout=30,
    )
    assert sent.status_code == 200, sent.text

    env = {
        "PATH": os.environ["PATH"],
        "LP_ACCOUNT": ACCOUNT,
        "LP_DISCOVERY": f"127.0.0.1:{server.port}",
        "LP_APP_KEY": key["appKey"],
        "LP_SECRET": key["secret"],
        "LP_ACCESS_TOKEN": key["accessToken"],
        "LP_ACCESS_TOKEN_SECRET": key["accessTokenSecret"],
    }
    done = subprocess.run(
        [sys.executable, "-c", CLIENT], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    answers: list[list[Any]] = json.loads(done.stdout)
    for (by_get, by_post), (method, params) in zip(answers, CALLS, strict=True):
        expected = ORACLES[method](events, NOW_MS, params)
        oracle_queue.same(by_get, expected)
        oracle_queue.same(by_post, expected)
