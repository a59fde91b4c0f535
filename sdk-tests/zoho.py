#!/usr/bin/env python3
"""Scenario: Zoho's official Python SDK (zohocrmsdk8_0) against renkei's Zoho CRM emulator.

Reads the sandbox origin from SANDBOX_URL (e.g. http://127.0.0.1:9933), finds the URLs and the
client in GET {SANDBOX_URL}/sandbox, resets and seeds the emulator through /_control, switches
auto-approve on, then drives the SDK with only its URLs changed. One line per step; exits
non-zero on the first failure.

SDK quirks met (and worked around):
- The SDK is pointed at a data centre through `DataCenter.Environment(url, accounts_url,
  file_upload_url)`: `url` is the API domain (the SDK appends `/crm/v8/...`), and
  `accounts_url` is the *token endpoint* itself (`.../oauth/v2/token`), not the accounts server;
  revoke is `accounts_url + "/revoke"`.
- After a token exchange the SDK reads `api_domain` from the token response and looks it up in
  its table of real Zoho domains (`DataCenter.get`); an unknown (sandbox) domain keeps the
  Environment given at initialisation, so the Environment must already be the right DC's.
- Right after a token exchange the SDK calls `GET /crm/v8/users?type=CurrentUser` to name the
  token's user (the token store is keyed by it), so the token needs `ZohoCRM.users.READ`.
- Before its first record call on a module the SDK fetches `GET /crm/v8/settings/fields?module=X`
  (and the fields of every module a lookup field points to) and caches them under
  `resource_path`, so the token needs `ZohoCRM.settings.fields.READ` (or settings.ALL).
- The SDK sends `Authorization: Zoho-oauthtoken <token>`.
- The authorization step is not part of the SDK: the script reads the code (and `location`,
  `accounts-server`) from the authorize redirect's Location with `requests`, not following it.
"""

import json
import os
import shutil
import sys
import tempfile
import urllib.parse

import requests

from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.api.authenticator.store.file_store import FileStore
from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
from zohocrmsdk.src.com.zoho.crm.api.parameter_map import ParameterMap
from zohocrmsdk.src.com.zoho.crm.api.header_map import HeaderMap
from zohocrmsdk.src.com.zoho.crm.api.sdk_config import SDKConfig
from zohocrmsdk.src.com.zoho.crm.api.record import (
    APIException,
    ActionWrapper,
    BodyWrapper,
    GetRecordsParam,
    Record,
    RecordOperations,
    ResponseWrapper,
    SearchRecordsParam,
    DeleteRecordsParam,
    SuccessResponse,
)
from zohocrmsdk.src.com.zoho.crm.api.users import UsersOperations, GetUsersParam
from zohocrmsdk.src.com.zoho.crm.api.org import OrgOperations

BASE = os.environ.get("SANDBOX_URL", "http://127.0.0.1:9933").rstrip("/")
STEP = 0


def step(msg):
    global STEP
    STEP += 1
    print(f"[{STEP:02d}] {msg}", flush=True)


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def control(what, body=None):
    r = requests.post(f"{BASE}/sandbox/zoho/_control/{what}", json=body)
    check(r.ok, f"control {what}: {r.status_code} {r.text}")
    return r.json() if r.text else None


directory = requests.get(f"{BASE}/sandbox").json()["providers"]["zoho"]
jp_org = next(a for a in directory["accounts"] if a["data_centre"] == "jp")
jp = directory["data_centres"]["jp"]["urls"]
client_id, client_secret = directory["client_id"], directory["client_secret"]
step(f"directory: jp org {jp_org['id']} ({jp_org['name']}), api {jp['api']}")

control("reset")
summary = control("seed", {"count": 450, "seed": 7, "account": jp_org["id"]})
control("settings", {"auto_approve": True})
step(f"reset, seeded {summary['created']}, auto_approve on")

# --- OAuth: authorize at the US accounts server; the redirect names the user's DC --------------
redirect_uri = "http://localhost:8000/callback"
scopes = "ZohoCRM.modules.ALL,ZohoCRM.settings.ALL,ZohoCRM.users.READ,ZohoCRM.org.READ"
r = requests.get(
    directory["urls"]["authorize"],
    params={
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "scope": scopes,
        "access_type": "offline",
        "state": "xyz",
        "account": jp_org["id"],
    },
    allow_redirects=False,
)
check(r.status_code in (302, 303, 307), f"authorize answered {r.status_code}")
q = urllib.parse.parse_qs(urllib.parse.urlparse(r.headers["Location"]).query)
code, location, accounts_server = q["code"][0], q["location"][0], q["accounts-server"][0]
check(location == "jp" and q["state"][0] == "xyz", f"redirect: {q}")
step(f"authorize redirect: location={location} accounts-server={accounts_server}")

# The code is only good at the user's DC: the US accounts server refuses it (HTTP 200 body).
r = requests.post(directory["urls"]["token"], data={
    "grant_type": "authorization_code", "client_id": client_id, "client_secret": client_secret,
    "redirect_uri": redirect_uri, "code": code})
check(r.status_code == 200 and r.json() == {"error": "invalid_code"}, f"wrong DC: {r.text}")
step("code redeemed at the wrong DC → {\"error\": \"invalid_code\"}")

# --- The SDK, with nothing but URLs changed -------------------------------------------------------
resources = tempfile.mkdtemp(prefix="zoho-sdk-")
try:
    environment = DataCenter.Environment(jp["api"], accounts_server + "/oauth/v2/token", jp["api"])
    token = OAuthToken(client_id=client_id, client_secret=client_secret, grant_token=code,
                       redirect_url=redirect_uri)
    store = FileStore(os.path.join(resources, "tokens.txt"))
    Initializer.initialize(environment=environment, token=token, store=store,
                           sdk_config=SDKConfig(auto_refresh_fields=False, pick_list_validation=False),
                           resource_path=resources)

    # Users (the first call also exchanges the grant token).
    pm = ParameterMap()
    pm.add(GetUsersParam.type, "CurrentUser")
    resp = UsersOperations().get_users(pm)
    check(resp is not None and resp.get_status_code() == 200, f"users: {resp and resp.get_status_code()}")
    me = resp.get_object().get_users()[0]
    step(f"SDK token exchange + users?type=CurrentUser → {me.get_email()}")
    check(token.get_refresh_token(), "no refresh token after the exchange")
    check(token.get_access_token().startswith("1000."), "access token format")

    resp = OrgOperations().get_organization()
    org = resp.get_object().get_org()[0]
    check(org.get_id() == jp_org["id"], f"org id {org.get_id()}")
    step(f"org: {org.get_company_name()} tz={org.get_time_zone()} currency={org.get_iso_code()}")

    # Create (batch of 3 leads), read, update.
    ops = RecordOperations("Leads")
    body = BodyWrapper()
    recs = []
    for i in range(3):
        rec = Record()
        rec.add_key_value("Last_Name", f"山田{i}")
        rec.add_key_value("First_Name", "太郎")
        rec.add_key_value("Company", "さくら商事")
        rec.add_key_value("Email", f"taro{i}@sdk.example.jp")
        rec.add_key_value("Phone", "03-1234-567" + str(i))
        recs.append(rec)
    body.set_data(recs)
    resp = ops.create_records(body)
    check(resp.get_status_code() == 201, f"create: {resp.get_status_code()}")
    created = resp.get_object().get_data()
    check(all(isinstance(x, SuccessResponse) for x in created), "create: not all SuccessResponse")
    ids = [x.get_details()["id"] for x in created]
    step(f"create 3 Leads → 201, ids {ids}")

    resp = ops.get_record(int(ids[0]))
    got = resp.get_object().get_data()[0]
    check(got.get_key_value("Last_Name") == "山田0", f"read: {got.get_key_value('Last_Name')}")
    check("+09:00" in str(got.get_key_value("Created_Time")) or got.get_key_value("Created_Time") is not None, "Created_Time")
    step(f"get_record → {got.get_key_value('Full_Name')} created {got.get_key_value('Created_Time')}")

    upd = Record()
    upd.add_key_value("Designation", "部長")
    body = BodyWrapper()
    body.set_data([upd])
    resp = ops.update_record(int(ids[0]), body)
    check(resp.get_status_code() == 200, f"update: {resp.get_status_code()}")
    check(resp.get_object().get_data()[0].get_message().get_value() == "record updated", "update message")
    step("update_record → 200 record updated")

    # Upsert: Email matches the first lead → update; a new email → insert.
    a = Record()
    a.add_key_value("Last_Name", "山田0")
    a.add_key_value("Company", "さくら商事")
    a.add_key_value("Email", "taro0@sdk.example.jp")
    b = Record()
    b.add_key_value("Last_Name", "新規")
    b.add_key_value("Company", "新規商事")
    b.add_key_value("Email", "new@sdk.example.jp")
    body = BodyWrapper()
    body.set_data([a, b])
    body.set_duplicate_check_fields(["Email"])
    resp = ops.upsert_records(body)
    actions = [x.get_action().get_value() for x in resp.get_object().get_data()]
    check(actions == ["update", "insert"], f"upsert actions {actions}")
    step(f"upsert_records with duplicate_check_fields=[Email] → {actions}")

    # List with paging to the end (Contacts were seeded).
    cops = RecordOperations("Contacts")
    seen, page = 0, 1
    while True:
        pm = ParameterMap()
        pm.add(GetRecordsParam.fields, "Last_Name,Email,Account_Name")
        pm.add(GetRecordsParam.per_page, 100)
        pm.add(GetRecordsParam.page, page)
        resp = cops.get_records(pm, HeaderMap())
        if resp.get_status_code() == 204:
            break
        w = resp.get_object()
        check(isinstance(w, ResponseWrapper), f"list page {page}: {type(w)}")
        seen += len(w.get_data())
        if not w.get_info().get_more_records():
            break
        page += 1
    check(seen == summary["created"]["Contacts"], f"paged {seen} contacts, seeded {summary['created']['Contacts']}")
    step(f"get_records Contacts paged to the end: {seen} records in {page} pages")

    # Search.
    pm = ParameterMap()
    pm.add(SearchRecordsParam.criteria, "((Last_Name:starts_with:山田)and(Company:equals:さくら商事))")
    resp = ops.search_records(pm)
    found = resp.get_object().get_data()
    check(len(found) >= 1, "search found nothing")
    pm = ParameterMap()
    pm.add(SearchRecordsParam.email, "taro1@sdk.example.jp")
    resp = ops.search_records(pm)
    check(len(resp.get_object().get_data()) == 1, "email search")
    step(f"search_records criteria → {len(found)} leads; email → 1")

    # Errors: a lead without its mandatory Last_Name; a duplicate unique Email.
    bad = Record()
    bad.add_key_value("Company", "x")
    body = BodyWrapper()
    body.set_data([bad])
    resp = ops.create_records(body)
    err = resp.get_object().get_data()[0]
    check(isinstance(err, APIException), f"expected APIException, got {type(err)}")
    check(err.get_code().get_value() == "MANDATORY_NOT_FOUND", f"code {err.get_code().get_value()}")
    check(err.get_details()["api_name"] == "Last_Name", f"details {err.get_details()}")
    step(f"create without Last_Name → {resp.get_status_code()} MANDATORY_NOT_FOUND {err.get_details()}")

    dup = Record()
    dup.add_key_value("Last_Name", "重複")
    dup.add_key_value("Company", "x")
    dup.add_key_value("Email", "taro2@sdk.example.jp")
    body = BodyWrapper()
    body.set_data([dup])
    resp = ops.create_records(body)
    err = resp.get_object().get_data()[0]
    check(err.get_code().get_value() == "DUPLICATE_DATA", f"dup code {err.get_code().get_value()}")
    step("create with an existing Email → DUPLICATE_DATA")

    # Delete (batch), then the deleted list.
    pm = ParameterMap()
    for i in ids[1:]:
        pm.add(DeleteRecordsParam.ids, str(i))
    resp = ops.delete_records(pm, HeaderMap())
    check(resp.get_status_code() == 200, f"delete: {resp.get_status_code()}")
    resp = ops.get_deleted_records(ParameterMap(), HeaderMap())
    dl = [d.get_id() for d in resp.get_object().get_data()]
    check(all(int(i) in [int(x) for x in dl] for i in ids[1:]), f"deleted list {dl}")
    step(f"delete_records 2 → deleted list has them")

    # Notes attached to a lead (the Notes module, Parent_Id with its module).
    nops = RecordOperations("Notes")
    note = Record()
    note.add_key_value("Note_Content", "初回訪問メモ")
    parent = Record()
    parent.set_id(int(ids[0]))
    parent.add_key_value("module", {"api_name": "Leads"})
    note.add_key_value("Parent_Id", parent)
    body = BodyWrapper()
    body.set_data([note])
    resp = nops.create_records(body)
    check(resp.get_status_code() == 201, f"note: {resp.get_status_code()} {resp.get_object().get_data()[0].__dict__}")
    step("create a Note with Parent_Id → 201")

    # Refresh: drop the access token so that the SDK refreshes with the refresh token.
    refresh_token = token.get_refresh_token()
    r = requests.post(accounts_server + "/oauth/v2/token", data={
        "grant_type": "refresh_token", "client_id": client_id, "client_secret": client_secret,
        "refresh_token": refresh_token})
    body = r.json()
    check("access_token" in body and "refresh_token" not in body and body["expires_in"] == 3600,
          f"refresh: {body}")
    step(f"refresh grant → new access token, no refresh_token, api_domain {body['api_domain']}")

    # An expired token: advance the emulator's clock past the hour; the SDK refreshes by itself
    # only on its own clock, so a call with the stale token answers INVALID_TOKEN.
    control("clock", {"advance_seconds": 3700})
    r = requests.get(jp["api"] + "/crm/v8/org",
                     headers={"Authorization": "Zoho-oauthtoken " + body["access_token"]})
    check(r.status_code == 401 and r.json()["code"] == "INVALID_TOKEN", f"expired: {r.text}")
    step("expired access token → 401 INVALID_TOKEN")

    # Revoke through the SDK's own revoke URL shape (accounts_url + /revoke).
    r = requests.post(accounts_server + "/oauth/v2/token/revoke", params={"token": refresh_token})
    check(r.json() == {"status": "success"}, f"revoke: {r.text}")
    r = requests.post(accounts_server + "/oauth/v2/token", data={
        "grant_type": "refresh_token", "client_id": client_id, "client_secret": client_secret,
        "refresh_token": refresh_token})
    check(r.json() == {"error": "invalid_code"}, f"refresh after revoke: {r.text}")
    step("revoke → success; refresh afterwards → invalid_code")
finally:
    shutil.rmtree(resources, ignore_errors=True)

print("OK: all Zoho SDK steps passed")
