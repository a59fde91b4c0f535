#!/usr/bin/env python3
"""Salesforce scenario: simple-salesforce 1.12.10 against renkei's Salesforce emulator.

Reads the sandbox origin from SANDBOX_URL (e.g. http://127.0.0.1:9922), takes URLs and the
connected app from GET {SANDBOX_URL}/sandbox, resets and seeds the emulator through
/_control, then runs the OAuth web server flow (with PKCE) and drives the REST API with the
SDK: CRUD, upsert by external id, SOQL with paging to the end, SOSL, describe, limits,
sObject Collections and Composite (a Contact linked to a new Account by reference), the
updated/deleted windows, and one error case per error family. One line per step; exit 1 on
any failure.

SDK quirks and how this script works around them (nothing else about the SDK is changed):
- simple-salesforce always builds `https://{sf_instance}/services/...` URLs, and when given an
  `instance_url` keeps only its host and port. The emulator's instance URL is plain http and
  has a path (`http://host:port/sandbox/salesforce/instances/sakura`). So the script passes
  `instance="host:port/sandbox/salesforce/instances/sakura"` (the instance URL without its
  scheme) and a `requests.Session` whose https adapter re-sends each request over http.
- `Salesforce.query_more` joins `nextRecordsUrl` (a path starting `/services/data/...`) to
  `https://{sf_instance}`, which with the instance above lands on the right org: this works
  because the emulator answers instance-relative `nextRecordsUrl`s, as Salesforce does.
- The SDK has no web server flow: the authorization code and token exchange are done with
  `requests` (the Location header of the authorize redirect is read without following it).
  The refresh goes through the SDK's `oauth2()` helper, which calls `/services/oauth2/token`
  on the instance (My Domain), with the parameters in the query string.
- The SDK's default API version is 59.0; the emulator serves 42.0-62.0 alike, and the script
  pins the documented 62.0.
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import secrets
import sys
import urllib.parse

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

ORIGIN = os.environ.get("SANDBOX_URL", "http://127.0.0.1:9922").rstrip("/")
FAILURES = []


def step(name, fn):
    try:
        detail = fn()
        print(f"ok   {name}" + (f": {detail}" if detail else ""))
        return detail
    except Exception as e:  # noqa: BLE001 - every failure is reported and counted
        print(f"FAIL {name}: {type(e).__name__}: {e}")
        FAILURES.append(name)
        return None


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


class HttpsAsHttp(HTTPAdapter):
    """Re-sends the SDK's https:// URLs over http (the emulator is plain http)."""

    def send(self, request, **kwargs):
        if request.url.startswith("https://"):
            request.url = "http://" + request.url[len("https://"):]
        return super().send(request, **kwargs)


directory = requests.get(f"{ORIGIN}/sandbox", timeout=10).json()["providers"]["salesforce"]
BASE = directory["urls"]["authorize"].split("/services/oauth2/")[0]
CLIENT_ID = directory["client_id"]
CLIENT_SECRET = directory["client_secret"]
ORG = directory["accounts"][0]
REDIRECT = "http://localhost:8765/callback"
VERSION = directory["api_version"].lstrip("v")


def control(what, body=None):
    r = requests.post(f"{BASE}/_control/{what}", json=body, timeout=60)
    r.raise_for_status()
    return r.json() if r.content else None


state = {}


def setup():
    control("reset")
    summary = control("seed", {"count": 5000, "seed": 7})
    control("settings", {"auto_approve": True})
    return json.dumps(summary["created"])


def authorize_and_exchange():
    """One consent (auto-approved) and its code exchange; answers (code, exchange body, exchange)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "state": "st-42",
        "scope": "api id refresh_token",
        "code_challenge": challenge,
        "account": ORG["id"],  # sandbox-only: which org auto-approve picks
    }
    r = requests.get(directory["urls"]["authorize"], params=params, allow_redirects=False, timeout=10)
    check(r.status_code in (302, 303), f"authorize answered {r.status_code}")
    q = urllib.parse.parse_qs(urllib.parse.urlparse(r.headers["Location"]).query)
    check(q["state"] == ["st-42"], "state round-trips")
    form = {
        "grant_type": "authorization_code",
        "code": q["code"][0],
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    return form, requests.post(directory["urls"]["token"], data=form, timeout=10).json()


def oauth_code_flow():
    _, tok = authorize_and_exchange()
    for k in ("access_token", "refresh_token", "signature", "scope", "instance_url", "id", "token_type", "issued_at"):
        check(k in tok, f"token response has {k}")
    check("expires_in" not in tok, "Salesforce does not announce expires_in")
    sig = base64.b64encode(hmac.new(CLIENT_SECRET.encode(), (tok["id"] + tok["issued_at"]).encode(), hashlib.sha256).digest()).decode()
    check(sig == tok["signature"], "signature = HMAC-SHA256(id + issued_at)")
    check(tok["instance_url"] == ORG["instance_url"], "instance_url is the org's")
    # Reusing a code fails with Salesforce's pair (and, as RFC 6749 asks, kills that grant: so
    # this uses a second consent, not the one whose tokens the script keeps).
    form, _ = authorize_and_exchange()
    again = requests.post(directory["urls"]["token"], data=form, timeout=10)
    check(again.status_code == 400 and again.json() == {"error": "invalid_grant", "error_description": "invalid authorization code"}, f"code reuse: {again.text}")
    state["tok"] = tok
    return tok["access_token"][:24] + "…"


def make_client(access_token):
    session = requests.Session()
    session.mount("https://", HttpsAsHttp())
    instance = state["tok"]["instance_url"].split("://", 1)[1]
    return Salesforce(instance=instance, session_id=access_token, session=session, version=VERSION)


def connect():
    state["sf"] = make_client(state["tok"]["access_token"])
    return state["sf"].base_url


def refresh():
    sf = state["sf"]
    fresh = sf.oauth2("token", {
        "grant_type": "refresh_token",
        "refresh_token": state["tok"]["refresh_token"],
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }, method="POST")
    check(fresh["access_token"] != state["tok"]["access_token"], "a new access token")
    check("refresh_token" not in fresh, "no rotation by default")
    state["sf"] = make_client(fresh["access_token"])
    state["access"] = fresh["access_token"]
    return fresh["issued_at"]


def describe():
    sf = state["sf"]
    names = {o["name"]: o["keyPrefix"] for o in sf.describe()["sobjects"]}
    check(names.get("Lead") == "00Q" and names.get("Opportunity") == "006", f"prefixes {names}")
    fields = {f["name"]: f for f in sf.Opportunity.describe()["fields"]}
    check(fields["Room_URL__c"]["custom"] and fields["Room_URL__c"]["type"] == "url", "Room_URL__c")
    lead = {f["name"]: f["type"] for f in sf.Lead.describe()["fields"]}
    check(lead["Email"] == "email" and lead["Phone"] == "phone", "Lead field types")
    return f"{len(names)} objects"


def crud():
    sf = state["sf"]
    res = sf.Lead.create({"LastName": "佐藤", "FirstName": "花子", "Company": "さくら商事", "Email": "hanako.sdk@example.jp", "Phone": "03-5555-0001"})
    check(res["success"] and res["id"].startswith("00Q") and len(res["id"]) == 18, f"create {res}")
    lead_id = res["id"]
    got = sf.Lead.get(lead_id)
    check(got["Company"] == "さくら商事" and got["CreatedDate"].endswith("+0000"), f"read {got['CreatedDate']}")
    check(sf.Lead.update(lead_id, {"Title": "部長"}) == 204, "update answers 204")
    check(sf.Lead.get(lead_id)["Title"] == "部長", "update visible")
    state["lead"] = lead_id
    return lead_id


def upsert():
    sf = state["sf"]
    check(sf.Account.upsert("External_Id__c/sdk-1", {"Name": "SDK Holdings"}) == 201, "upsert creates")
    check(sf.Account.upsert("External_Id__c/sdk-1", {"Name": "SDK Holdings K.K."}) == 200, "upsert updates")
    acct = sf.Account.get_by_custom_id("External_Id__c", "sdk-1")
    check(acct["Name"] == "SDK Holdings K.K.", acct["Name"])
    state["account"] = acct["Id"]
    return acct["Id"]


def query_paging():
    sf = state["sf"]
    total = sf.query("SELECT COUNT() FROM Lead")["totalSize"]
    first = sf.query("SELECT Id, Name, Email, Phone FROM Lead")
    check(not first["done"] and first["nextRecordsUrl"].startswith("/services/data/"), "first page not done")
    rows = sf.query_all("SELECT Id, Name, Email, Phone FROM Lead")["records"]
    check(len(rows) == total and total > 2000, f"{len(rows)} of {total}")
    check(len({r["Id"] for r in rows}) == total, "no duplicates across pages")
    rel = sf.query("SELECT Id, Name, Account.Name FROM Contact WHERE Account.Name != null ORDER BY Name LIMIT 5")
    check(all(r["Account"]["Name"] for r in rel["records"]), "parent relationship")
    recent = sf.query("SELECT Id FROM Lead WHERE CreatedDate = TODAY AND (LeadSource = 'Web' OR LeadSource = 'Phone Inquiry') LIMIT 10")
    check(recent["totalSize"] == 10, f"date literal: {recent['totalSize']}")
    return f"{total} leads over {(total + 1999) // 2000} pages"


def search():
    sf = state["sf"]
    found = sf.search("FIND {0355550001} IN PHONE FIELDS RETURNING Lead(Id, Name, Phone)")
    ids = [r["Id"] for r in found["searchRecords"]]
    check(state["lead"] in ids, f"phone search {ids}")
    quick = sf.quick_search("hanako.sdk")
    check(any(r["Id"] == state["lead"] for r in quick["searchRecords"]), "quick search")
    return f"{len(ids)} hit(s)"


def collections_and_composite():
    sf = state["sf"]
    created = sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": [
        {"attributes": {"type": "Contact"}, "LastName": f"Batch{i}", "AccountId": state["account"]} for i in range(3)
    ]})
    check(all(r["success"] for r in created), f"collections {created}")
    comp = sf.restful("composite", method="POST", json={"allOrNone": True, "compositeRequest": [
        {"method": "POST", "url": f"/services/data/v{VERSION}/sobjects/Account", "referenceId": "acct", "body": {"Name": "Composite Co"}},
        {"method": "POST", "url": f"/services/data/v{VERSION}/sobjects/Contact", "referenceId": "ct",
         "body": {"LastName": "Linked", "AccountId": "@{acct.id}"}},
        {"method": "POST", "url": f"/services/data/v{VERSION}/sobjects/Opportunity", "referenceId": "opp",
         "body": {"Name": "Demo", "StageName": "Prospecting", "CloseDate": "2030-01-31", "AccountId": "@{acct.id}",
                  "Room_URL__c": "https://meet.example.com/room/demo"}},
    ]})
    codes = [r["httpStatusCode"] for r in comp["compositeResponse"]]
    check(codes == [201, 201, 201], f"composite {codes}")
    linked = sf.query("SELECT Name, Account.Name FROM Contact WHERE LastName = 'Linked'")
    check(linked["records"][0]["Account"]["Name"] == "Composite Co", "contact linked to the account")
    opp = sf.query("SELECT Room_URL__c, Account.Name FROM Opportunity WHERE Name = 'Demo'")["records"][0]
    check(opp["Room_URL__c"].endswith("/room/demo") and opp["Account"]["Name"] == "Composite Co", "opportunity")
    return f"{len(created)} via collections, {len(codes)} via composite"


def windows():
    sf = state["sf"]
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(minutes=5)
    check(sf.Lead.delete(state["lead"]) == 204, "delete answers 204")
    deleted = sf.Lead.deleted(start, end)
    check(any(d["id"] == state["lead"] for d in deleted["deletedRecords"]), "deleted window")
    updated = sf.Account.updated(start, end)
    check(state["account"] in updated["ids"], "updated window")
    return f"{len(deleted['deletedRecords'])} deleted, {len(updated['ids'])} updated"


def limits():
    sf = state["sf"]
    lim = sf.limits()
    check(lim["DailyApiRequests"]["Max"] == 15000, lim["DailyApiRequests"])
    usage = sf.api_usage["api-usage"]
    check(usage.total == 15000 and usage.used > 0, f"Sforce-Limit-Info parsed: {usage}")
    return f"api-usage {usage.used}/{usage.total}"


def expect(exc_type, code, fn):
    try:
        fn()
    except exc_type as e:
        content = e.content if isinstance(e.content, list) else json.loads(e.content)
        check(content[0]["errorCode"] == code, f"{content}")
        return code
    raise AssertionError(f"expected {exc_type.__name__} {code}")


def errors():
    sf = state["sf"]
    out = [
        expect(SalesforceMalformedRequest, "REQUIRED_FIELD_MISSING", lambda: sf.Lead.create({"FirstName": "No Last Name"})),
        expect(SalesforceMalformedRequest, "INVALID_FIELD", lambda: sf.query("SELECT Nam FROM Lead")),
        expect(SalesforceMalformedRequest, "MALFORMED_QUERY", lambda: sf.query("SELECT Id FRM Lead")),
        expect(SalesforceResourceNotFound, "ENTITY_IS_DELETED", lambda: sf.Lead.get(state["lead"])),
    ]
    control("settings", {"duplicate_rule": True})
    sf.Contact.create({"LastName": "Dup", "Email": "dup.sdk@example.jp"})
    out.append(expect(SalesforceMalformedRequest, "DUPLICATES_DETECTED",
                      lambda: sf.Contact.create({"LastName": "Dup2", "Email": "dup.sdk@example.jp"})))
    control("limits", {"daily_api_requests": 1})
    out.append(expect(SalesforceRefusedRequest, "REQUEST_LIMIT_EXCEEDED", lambda: sf.limits()))
    control("limits", {"daily_api_requests": 15000})
    requests.post(directory["urls"]["revoke"], data={"token": state["access"]}, timeout=10).raise_for_status()
    out.append(expect(SalesforceExpiredSession, "INVALID_SESSION_ID", lambda: sf.query("SELECT Id FROM Lead LIMIT 1")))
    return ", ".join(out)


step("reset, seed, auto-approve", setup)
step("OAuth web server flow with PKCE", oauth_code_flow)
if "tok" in state:
    step("connect the SDK", connect)
    step("refresh the session (SDK oauth2 helper)", refresh)
    step("describeGlobal and describe", describe)
    step("create, read, update a Lead", crud)
    step("upsert and read by external id", upsert)
    step("SOQL with paging to the end", query_paging)
    step("SOSL search", search)
    step("sObject Collections and Composite with references", collections_and_composite)
    step("delete; updated/deleted windows", windows)
    step("limits and Sforce-Limit-Info", limits)
    step("errors", errors)

if FAILURES:
    print(f"{len(FAILURES)} step(s) failed: {', '.join(FAILURES)}")
    sys.exit(1)
print("all steps passed")
