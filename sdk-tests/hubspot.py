"""HubSpot scenario against renkei's sandbox, with HubSpot's official Python SDK
(hubspot-api-client 12.0.0) and nothing changed but its host.

    SANDBOX_URL=http://127.0.0.1:9911 python sdk-tests/hubspot.py

Prints one line per step and exits non-zero on the first failure.

SDK notes (quirks met, and how this script copes):
- The SDK takes the API root as `host` (its default is https://api.hubapi.com); the sandbox's
  API root is `{SANDBOX_URL}/sandbox/hubspot` and plain http is accepted, so nothing else is
  needed. Every API group (crm.contacts, oauth, ...) reads the same `host` from the client.
- The OAuth token call (`client.oauth.tokens_api.create`) has no `code_verifier` parameter in
  12.0.0, so the code exchange here is done without PKCE; the sandbox's PKCE is tested in
  Rust.
- `client.crm.contacts.get_all()` pages with `paging.next.after` until the end; it is used to
  read the whole seeded portal.
- The script's own name (hubspot.py) shadows the SDK package when run as a file; it removes
  its folder from `sys.path` before importing the SDK.
- A 404 on `basic_api.get_by_id` has an empty body (as HubSpot answers it), so the SDK's
  NotFoundException carries `body == ''`.
"""

import json
import os
import sys
import urllib.parse
import urllib.request

# This file is named hubspot.py, so its own folder (sys.path[0]) would shadow the SDK's
# `hubspot` package; drop that folder from the import path before importing the SDK.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != _here]

import hubspot  # noqa: E402
from hubspot.crm.associations.v4 import AssociationSpec  # noqa: E402
from hubspot.crm.contacts import (  # noqa: E402
    ApiException as ContactsApiException,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.companies import (  # noqa: E402
    BatchInputSimplePublicObjectBatchInputForCreate as CompanyBatchCreate,
    SimplePublicObjectBatchInputForCreate as CompanyCreate,
)
from hubspot.oauth import ApiException as OAuthApiException  # noqa: E402

ORIGIN = os.environ.get("SANDBOX_URL", "http://127.0.0.1:9911").rstrip("/")
STEP = 0


def step(msg):
    global STEP
    STEP += 1
    print(f"[hubspot {STEP:02d}] {msg}", flush=True)


def fail(msg):
    print(f"[hubspot] FAILED: {msg}", flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def http(method, url, body=None, form=None):
    data, headers = None, {}
    if body is not None:
        data, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req) as r:
        text = r.read().decode()
        return json.loads(text) if text else None


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def main():
    directory = http("GET", f"{ORIGIN}/sandbox")["providers"]["hubspot"]
    api = directory["urls"]["api"]
    control = f"{api}/_control"
    client_id, client_secret = directory["client_id"], directory["client_secret"]
    jp, us = directory["accounts"][0], directory["accounts"][1]
    step(f"directory: api={api}, portals {jp['id']} and {us['id']}")

    http("POST", f"{control}/reset")
    http("POST", f"{control}/settings", {"auto_approve": True})
    http("POST", f"{control}/limits", {"enabled": False})
    summary = http("POST", f"{control}/seed", {"count": 150, "seed": 7})
    step(f"reset, auto_approve on, seeded {summary['contacts']} contacts / {summary['companies']} companies")

    # OAuth: read the code from the authorize redirect without following it.
    redirect_uri = "http://localhost:8765/callback"
    query = urllib.parse.urlencode({
        "client_id": client_id, "redirect_uri": redirect_uri,
        "scope": "oauth crm.objects.contacts.read crm.objects.contacts.write",
        "state": "sdk-state", "account": jp["id"],
    })
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(f"{directory['urls']['authorize']}?{query}")
        fail("the authorize request did not redirect")
    except urllib.error.HTTPError as e:
        check(e.code in (302, 303, 307), f"authorize answered {e.code}")
        location = e.headers["Location"]
    params = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
    check(params["state"] == ["sdk-state"], "state came back")
    code = params["code"][0]
    step("authorize redirected with a code")

    anon = hubspot.Client.create(host=api)
    tokens = anon.oauth.tokens_api.create(
        grant_type="authorization_code", code=code, redirect_uri=redirect_uri,
        client_id=client_id, client_secret=client_secret,
    )
    check(tokens.expires_in == 1800 and tokens.token_type == "bearer", "token response")
    step(f"SDK exchanged the code: expires_in={tokens.expires_in}")

    try:
        anon.oauth.tokens_api.create(
            grant_type="authorization_code", code=code, redirect_uri=redirect_uri,
            client_id=client_id, client_secret=client_secret,
        )
        fail("a reused code was accepted")
    except OAuthApiException as e:
        body = json.loads(e.body)
        check(e.status == 400 and body["status"] == "BAD_AUTH_CODE", f"reuse: {e.status} {e.body}")
    step("a reused code is refused with BAD_AUTH_CODE")

    # The reuse revoked the first grant; get a fresh one and refresh it.
    opener2 = urllib.request.build_opener(NoRedirect)
    try:
        opener2.open(f"{directory['urls']['authorize']}?{query}")
    except urllib.error.HTTPError as e:
        code = urllib.parse.parse_qs(urllib.parse.urlsplit(e.headers["Location"]).query)["code"][0]
    tokens = anon.oauth.tokens_api.create(
        grant_type="authorization_code", code=code, redirect_uri=redirect_uri,
        client_id=client_id, client_secret=client_secret,
    )
    refreshed = anon.oauth.tokens_api.create(
        grant_type="refresh_token", refresh_token=tokens.refresh_token,
        client_id=client_id, client_secret=client_secret,
    )
    check(refreshed.refresh_token == tokens.refresh_token, "a refresh keeps the refresh token")
    check(refreshed.access_token != tokens.access_token, "a refresh gives a new access token")
    info = anon.oauth.access_tokens_api.get(refreshed.access_token)
    check(str(info.hub_id) == jp["id"], f"token info hub_id {info.hub_id}")
    step(f"refreshed; access token info says hub {info.hub_id}, user {info.user}")

    client = hubspot.Client.create(access_token=refreshed.access_token, host=api)
    contacts = client.crm.contacts

    created = contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={
        "email": "sdk.user@example.co.jp", "firstname": "太郎", "lastname": "SDK",
        "phone": "+81 3 1234 5678",
    }))
    check(created.properties["email"] == "sdk.user@example.co.jp", "created email")
    step(f"created contact {created.id} at {created.created_at.isoformat()}")

    read = contacts.basic_api.get_by_id(created.id, properties=["email", "phone"])
    check(read.properties["phone"] == "+81 3 1234 5678", "read phone")
    by_email = contacts.basic_api.get_by_id("SDK.USER@example.co.jp", id_property="email")
    check(by_email.id == created.id, "read by email")
    step("read it by id and by email (idProperty)")

    updated = contacts.basic_api.update(created.id, SimplePublicObjectInput(properties={"jobtitle": "CTO"}))
    check(updated.properties["jobtitle"] == "CTO", "update")
    step("updated jobtitle")

    try:
        contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={"email": "sdk.user@example.co.jp"}))
        fail("duplicate email accepted")
    except ContactsApiException as e:
        body = json.loads(e.body)
        check(e.status == 409 and body["category"] == "CONFLICT", f"{e.status} {e.body}")
        check(body["message"] == f"Contact already exists. Existing ID: {created.id}", body["message"])
    step("a duplicate email is refused: 409 CONFLICT naming the existing id")

    try:
        contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={"shoe_size": "42"}))
        fail("unknown property accepted")
    except ContactsApiException as e:
        check(e.status == 400 and "PROPERTY_DOESNT_EXIST" in json.loads(e.body)["message"], e.body)
    step("an unknown property is refused: 400 PROPERTY_DOESNT_EXIST")

    try:
        contacts.basic_api.get_by_id("1")
        fail("unknown id found")
    except ContactsApiException as e:
        check(e.status == 404, f"{e.status}")
    step("an unknown id is a 404")

    everyone = contacts.get_all(properties=["email"])
    check(len(everyone) == summary["contacts"] + 1, f"get_all found {len(everyone)}")
    step(f"get_all paged through {len(everyone)} contacts")

    # Search with a filter, paging with `after` to the end.
    request = PublicObjectSearchRequest(
        filter_groups=[FilterGroup(filters=[Filter(property_name="email", operator="HAS_PROPERTY")])],
        sorts=["createdate"], properties=["email", "firstname"], limit=40,
    )
    found, pages, after = [], 0, None
    while True:
        request.after = after
        page = contacts.search_api.do_search(public_object_search_request=request)
        found += page.results
        pages += 1
        if page.paging is None or page.paging.next is None:
            break
        after = page.paging.next.after
    check(len(found) == page.total, f"search paged {len(found)} of {page.total}")
    step(f"search (HAS_PROPERTY email) paged {pages} pages, {len(found)} results, total {page.total}")

    token = contacts.search_api.do_search(public_object_search_request=PublicObjectSearchRequest(
        filter_groups=[FilterGroup(filters=[Filter(property_name="email", operator="EQ", value="sdk.user@example.co.jp")])],
    ))
    check(token.total == 1 and token.results[0].id == created.id, "EQ search")
    step("search EQ on email finds the new contact")

    # Batches: upsert by email, read with one unknown id (207).
    upsert = contacts.batch_api.upsert(BatchInputSimplePublicObjectBatchInputUpsert(inputs=[
        SimplePublicObjectBatchInputUpsert(id="sdk.user@example.co.jp", id_property="email", properties={"city": "Tokyo"}),
        SimplePublicObjectBatchInputUpsert(id="new.sdk@example.com", id_property="email", properties={"firstname": "New"}),
    ]))
    flags = sorted(r.new for r in upsert.results)
    check(flags == [False, True], f"upsert new flags {flags}")
    step("batch upsert by email: one updated, one created")

    batch = contacts.batch_api.read(BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id=created.id), SimplePublicObjectId(id="999")],
        properties=["email"], properties_with_history=[],
    ))
    check(len(batch.results) == 1 and batch.errors and batch.errors[0].category == "OBJECT_NOT_FOUND", "207")
    step(f"batch read with an unknown id answered {len(batch.results)} result and error {batch.errors[0].category}")

    companies = client.crm.companies.batch_api.create(CompanyBatchCreate(inputs=[
        CompanyCreate(properties={"name": "SDK株式会社", "domain": "sdk.co.jp"}),
    ]))
    company_id = companies.results[0].id
    step(f"batch created company {company_id}")

    assoc = client.crm.associations.v4.basic_api.create_default("contacts", created.id, "companies", company_id)
    check(any(r.association_spec.association_type_id == 279 for r in assoc.results), "default type 279")
    labelled = client.crm.associations.v4.basic_api.create(
        "contacts", created.id, "companies", company_id,
        [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=1)],
    )
    check("Primary" in labelled.labels, f"labels {labelled.labels}")
    listed = client.crm.associations.v4.basic_api.get_page("contacts", created.id, "companies")
    types = sorted(t.type_id for t in listed.results[0].association_types)
    check(types == [1, 279], f"types {types}")
    step(f"associated contact and company: type ids {types}")

    with_assoc = contacts.basic_api.get_by_id(created.id, associations=["companies"])
    names = sorted(r.type for r in with_assoc.associations["companies"].results)
    check(names == ["contact_to_company", "contact_to_company_unlabeled"], f"{names}")
    step(f"v3 read shows associations {names}")

    owners = client.crm.owners.owners_api.get_page(email=jp["owners"][0]["email"])
    check(len(owners.results) == 1, "owner by email")
    props = client.crm.properties.core_api.get_by_name("contacts", "lifecyclestage")
    check(props.type == "enumeration", "property type")
    step(f"owner {owners.results[0].id} found by email; lifecyclestage is {props.type}/{props.field_type}")

    contacts.batch_api.archive(BatchInputSimplePublicObjectId(inputs=[SimplePublicObjectId(id=created.id)]))
    try:
        contacts.basic_api.get_by_id(created.id)
        fail("archived contact still readable")
    except ContactsApiException as e:
        check(e.status == 404, f"{e.status}")
    step("batch archive removed the contact")

    # Expiry through the clock: the SDK sees HubSpot's 401 EXPIRED_AUTHENTICATION.
    http("POST", f"{control}/clock", {"advance_seconds": 1900})
    try:
        contacts.basic_api.get_page(limit=1)
        fail("an expired token was accepted")
    except ContactsApiException as e:
        body = json.loads(e.body)
        check(e.status == 401 and body["category"] == "EXPIRED_AUTHENTICATION", e.body)
    step("after 1900 s the access token is refused: 401 EXPIRED_AUTHENTICATION")

    # A private-app token works without OAuth, in its own portal.
    pat_client = hubspot.Client.create(access_token=us["private_app_token"], host=api)
    page = pat_client.crm.contacts.basic_api.get_page(limit=5)
    check(page.results == [], "the US portal is empty")
    step("the US portal's private-app token reads its (empty) portal")

    http("POST", f"{control}/limits", {"enabled": True, "private_app_ten_second_max": 2})
    http("POST", f"{control}/clock", {"advance_seconds": 11})
    try:
        for _ in range(3):
            pat_client.crm.contacts.basic_api.get_page(limit=1)
        fail("no 429")
    except ContactsApiException as e:
        body = json.loads(e.body)
        check(e.status == 429 and body["errorType"] == "RATE_LIMIT", e.body)
    step(f"rate limit: 429 {body['policyName']}")
    http("POST", f"{control}/reset")
    print("[hubspot] all steps passed", flush=True)


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        fail(repr(e))
