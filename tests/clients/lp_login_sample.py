# ruff: noqa: UP031 (written as the samples are, with % formatting)
# A client written the way the community Python wrapper and the CSV-building samples
# work: its constructor resolves every service it will use (the Login Service, the
# account configuration, the Operational Realtime API) through the Domain API over
# plain http, logs in with a user name and password and sends the session's bearer on
# every call, reads the skill and agent names to label the metrics, writes a CSV, then
# refreshes and logs out. Nothing in it knows about engactivity; the test runs it as it
# is (tests/clients/with_hosts.py sends the LivePerson host names to the test server,
# REQUESTS_CA_BUNDLE makes it trust the test certificate).
#
# Settings come from the environment. It prints one JSON object: each call's name,
# status and body (the CSV under "csv"); an unexpected status stops it (exit 1).

import csv
import io
import json
import os
import sys

import requests

account = os.environ["LP_ACCOUNT"]
username = os.environ["LP_USERNAME"]
password = os.environ["LP_PASSWORD"]
results = {}


def record(name, response, expected=200):
    body = response.json() if response.content else None
    results[name] = {"status": response.status_code, "body": body}
    if response.status_code != expected:
        print(json.dumps(results))
        sys.exit(1)
    return body


class Client:
    def __init__(self):
        self.session = requests.session()
        self.domains = {
            service: self._domain(service)
            for service in ("agentVep", "accountConfigReadOnly", "leDataReporting")
        }
        url = "https://%s/api/account/%s/login?v=1.3" % (self.domains["agentVep"], account)
        login = {"username": username, "password": password}
        body = record("login", self.session.post(url, json=login))
        self.bearer, self.csrf = body["bearer"], body["csrf"]
        self.headers = {
            "content-type": "application/json",
            "Authorization": "Bearer " + self.bearer,
        }

    def _domain(self, service):
        url = "http://api.liveperson.net/api/account/%s/service/%s/baseURI.json?version=1.0"
        body = record("discovery_" + service, self.session.get(url % (account, service)))
        return body["baseURI"]

    def config(self, what, **params):
        url = "https://%s/api/account/%s/configuration/le-users/%s" % (
            self.domains["accountConfigReadOnly"],
            account,
            what,
        )
        return record("config_" + what, self.session.get(url, headers=self.headers, params=params))

    def method(self, name, body, expected=200):
        url = "https://%s/operations/api/account/%s/%s" % (
            self.domains["leDataReporting"],
            account,
            name,
        )
        response = self.session.post(url, json=body, headers=self.headers)
        return record(name if expected == 200 else name + "_after_logout", response, expected)

    def vep(self, what):
        url = "https://%s/api/account/%s/%s" % (self.domains["agentVep"], account, what)
        return self.session.post(url, json={"csrf": self.csrf}, headers=self.headers)


client = Client()
skills = {str(s["id"]): s["name"] for s in client.config("skills")}
agents = {str(u["id"]): u.get("fullName") for u in client.config("users", select="id,fullName")}
metrics = client.method(
    "engactivity",
    {"timeframe": 60, "v": 1, "skillIds": "all", "agentIds": None, "interval": None},
)
activity = client.method("agentactivity", {"timeframe": "60", "v": "1", "agentIds": "all"})

out = io.StringIO()
table = csv.writer(out, lineterminator="\n")
table.writerow(["skill", "interactive chats"])
per_skill = metrics["skillsMetricsPerAgent"]["metricsPerSkill"]
for skill_id in sorted(per_skill, key=int):
    chats = per_skill[skill_id]["metricsTotals"]["totalInteractiveChats"]
    table.writerow([skills.get(skill_id, skill_id), chats])
table.writerow(["agent", "seconds logged in"])
per_agent = activity["agentsMetrics"]["metricsPerAgent"]
for agent_id in sorted(per_agent, key=int):
    logged_in = next(e for e in per_agent[agent_id] if e["id"] == -1)
    table.writerow([agents.get(agent_id, agent_id), logged_in["value"]["total"]])
results["csv"] = out.getvalue()

record("refresh", client.vep("refresh"))
record("logout", client.vep("logout"))
client.method("engactivity", {"timeframe": 60, "v": 1}, expected=401)
print(json.dumps(results))
