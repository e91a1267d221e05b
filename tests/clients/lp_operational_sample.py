# A client of LivePerson's Operational Realtime API written the way the published
# samples are: requests + requests_oauthlib, the account's domain found through the
# Domain API first, the LivePerson host names and https. Nothing in it knows about
# engactivity; the test runs it as it is (tests/clients/with_hosts.py points the
# names at the test server, REQUESTS_CA_BUNDLE makes it trust the test certificate).
#
# Settings come from the environment, as a deployed script's would. It prints one
# JSON object: each call's name, status and body; a failed call stops it (exit 1).

import json
import os
import sys

import requests
from requests_oauthlib import OAuth1

account_number = os.environ["LP_ACCOUNT"]
app_key = os.environ["LP_APP_KEY"]
app_secret = os.environ["LP_APP_SECRET"]
access_token = os.environ["LP_ACCESS_TOKEN"]
access_token_secret = os.environ["LP_ACCESS_TOKEN_SECRET"]


def oauth(signature_type):
    return OAuth1(
        app_key,
        client_secret=app_secret,
        resource_owner_key=access_token,
        resource_owner_secret=access_token_secret,
        signature_method="HMAC-SHA1",
        signature_type=signature_type,
    )


client = requests.session()
postheader = {"content-type": "application/json"}
results = {}


def record(name, response):
    results[name] = {"status": response.status_code, "body": response.json()}
    if response.status_code != 200:
        print(json.dumps(results))
        sys.exit(1)


# Which host serves the Operational Realtime API for this account (plain http, as
# many scripts call it).
domain_url = (
    "http://api.liveperson.net/api/account/"
    + account_number
    + "/service/leDataReporting/baseURI.json?version=1.0"
)
response = client.get(domain_url, headers=postheader)
record("discovery", response)
base_uri = response.json()["baseURI"]
api = "https://" + base_uri + "/operations/api/account/" + account_number

# Signed in the Authorization header, Content-Type json on a GET (as the samples do).
url = api + "/engactivity?timeframe=60&v=1&skillIds=all&agentIds=all&interval=15"
record("engactivity_get_header", client.get(url, headers=postheader, auth=oauth("auth_header")))

# Signed in the query string.
params = {"timeframe": "60", "v": "1", "skillIds": "all", "interval": "30"}
record(
    "queuehealth_get_query", client.get(api + "/queuehealth", params=params, auth=oauth("query"))
)

# A JSON body with nulls for what is not asked.
body = {"timeframe": 60, "v": 1, "skillIds": None, "agentIds": "all", "interval": None}
record(
    "engactivity_post_json_nulls",
    client.post(api + "/engactivity", json=body, auth=oauth("auth_header")),
)

# A form body, signed in the header (the form's fields are in the signature).
form = {"v": "1", "skillIds": "all"}
record(
    "queuestate_post_form_header",
    client.post(api + "/queuestate", data=form, auth=oauth("auth_header")),
)

# A form body carrying the signature itself (RFC 5849 section 3.5.2).
form = {"timeframe": "60", "v": "1", "skillIds": "all", "histogram": "0,30,60"}
record("sla_post_form_body", client.post(api + "/sla", data=form, auth=oauth("body")))

form = {"timeframe": "60", "v": "1", "agentIds": "all"}
record(
    "agentactivity_post_form_body",
    client.post(api + "/agentactivity", data=form, auth=oauth("body")),
)

print(json.dumps(results))
