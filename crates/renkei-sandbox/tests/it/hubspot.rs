//! The HubSpot emulator driven over HTTP as an integration (or HubSpot's SDK) drives HubSpot:
//! OAuth, CRUD, paging, batch, search, properties, associations, owners, errors, rate limits
//! and webhooks. There is no spec validation test: HubSpot's OpenAPI files are proprietary and
//! are not in `shared/specs` (see docs/sandbox/hubspot.md).

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::TestSandbox;

const P: &str = "hubspot";

struct Hs {
    sb: TestSandbox,
    dir: Value,
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
    text: String,
}

impl Hs {
    async fn start() -> Hs {
        let sb = TestSandbox::start().await;
        let (_, d) = sb.get_json(&format!("{}/sandbox", sb.origin)).await;
        let dir = d["providers"][P].clone();
        Hs { sb, dir }
    }

    fn pat(&self, i: usize) -> String {
        self.dir["accounts"][i]["private_app_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn hub(&self, i: usize) -> String {
        self.dir["accounts"][i]["id"].as_str().unwrap().to_owned()
    }

    fn url(&self, path: &str) -> String {
        self.sb.url(P, path)
    }

    async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Answer {
        let mut req = self.sb.client.request(method, self.url(path));
        if !token.is_empty() {
            req = req.bearer_auth(token);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }

    async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, token, None).await
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, token, Some(body)).await
    }

    async fn form(&self, path: &str, form: &[(&str, &str)]) -> Answer {
        let resp = self
            .sb
            .client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        Answer {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }

    async fn control(&self, what: &str, body: Value) -> Value {
        self.sb.control(P, what, body).await
    }

    /// Runs the consent flow (approve, first account unless `account`) and answers the code.
    async fn code(&self, extra: &[(&str, &str)], account: Option<&str>) -> String {
        let mut form = vec![
            ("client_id", self.dir["client_id"].as_str().unwrap()),
            ("redirect_uri", "http://localhost:5555/cb"),
            ("scope", "crm.objects.contacts.read oauth"),
            ("state", "st8"),
            ("decision", "approve"),
        ];
        let hub = self.hub(0);
        form.push(("account", account.unwrap_or(&hub)));
        form.extend_from_slice(extra);
        let resp = self
            .sb
            .client
            .post(self.url("/oauth/authorize"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303, "{:?}", resp.text().await);
        let loc = resp.headers()["location"].to_str().unwrap().to_owned();
        let q = query_of(&loc);
        assert_eq!(q["state"], "st8");
        q["code"].clone()
    }

    async fn exchange(&self, path: &str, code: &str, verifier: Option<&str>) -> Answer {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("client_id", self.dir["client_id"].as_str().unwrap()),
            ("client_secret", self.dir["client_secret"].as_str().unwrap()),
            ("redirect_uri", "http://localhost:5555/cb"),
            ("code", code),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        self.form(path, &form).await
    }

    async fn refresh(&self, rt: &str) -> Answer {
        self.form(
            "/oauth/v1/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", self.dir["client_id"].as_str().unwrap()),
                ("client_secret", self.dir["client_secret"].as_str().unwrap()),
                ("refresh_token", rt),
            ],
        )
        .await
    }

    async fn contact(&self, token: &str, props: Value) -> String {
        let a = self
            .post(
                "/crm/v3/objects/contacts",
                token,
                json!({"properties": props}),
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.text);
        a.body["id"].as_str().unwrap().to_owned()
    }
}

fn query_of(url: &str) -> HashMap<String, String> {
    let q = url.split_once('?').map(|x| x.1).unwrap_or("");
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(x) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(x);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn is_hubspot_time(s: &str) -> bool {
    // 2019-10-30T03:30:17.883Z
    s.len() == 24 && s.ends_with('Z') && s.as_bytes()[10] == b'T' && s.as_bytes()[19] == b'.'
}

#[tokio::test]
async fn consent_page_code_exchange_refresh_info_and_revoke() {
    let hs = Hs::start().await;
    // The consent page is HubSpot's account chooser.
    let page = hs
        .sb
        .client
        .get(hs.url(&format!(
            "/oauth/authorize?client_id={}&redirect_uri=http://localhost:5555/cb&scope=oauth&state=s",
            hs.dir["client_id"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Choose an account"));
    assert!(page.contains("Renkei Demo 株式会社") && page.contains("Renkei Demo Inc."));
    // An unknown app gets an error page, not a redirect.
    let bad = hs
        .sb
        .client
        .get(hs.url("/oauth/authorize?client_id=nope&redirect_uri=http://x/cb"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    let code = hs.code(&[], None).await;
    let t = hs.exchange("/oauth/v1/token", &code, None).await;
    assert_eq!(t.status, 200, "{}", t.text);
    for f in [
        "access_token",
        "refresh_token",
        "token_type",
        "expires_in",
        "hub_id",
    ] {
        assert!(!t.body[f].is_null(), "{f}: {}", t.text);
    }
    assert_eq!(t.body["token_type"], "bearer");
    assert_eq!(t.body["expires_in"], 1800);
    assert_eq!(t.body["hub_id"].to_string(), hs.hub(0));
    let at = t.body["access_token"].as_str().unwrap().to_owned();
    let rt = t.body["refresh_token"].as_str().unwrap().to_owned();

    // The code works once.
    let again = hs.exchange("/oauth/v1/token", &code, None).await;
    assert_eq!(again.status, 400);
    assert_eq!(again.body["status"], "BAD_AUTH_CODE");
    // ... and its reuse revoked what it produced (RFC 6749 4.1.2).
    assert_eq!(hs.get("/crm/v3/objects/contacts", &at).await.status, 401);

    let code = hs.code(&[], None).await;
    let t = hs.exchange("/oauth/v3/token", &code, None).await;
    assert_eq!(t.status, 200, "{}", t.text);
    let at = t.body["access_token"].as_str().unwrap().to_owned();
    let rt2 = t.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt, rt2);
    let api = hs.get("/crm/v3/objects/contacts", &at).await;
    assert_eq!(api.status, 200);

    let info = hs.get(&format!("/oauth/v1/access-tokens/{at}"), "").await;
    assert_eq!(info.status, 200);
    assert_eq!(info.body["hub_id"].to_string(), hs.hub(0));
    assert_eq!(info.body["token"], at.as_str());
    assert!(info.body["expires_in"].as_i64().unwrap() > 1700);
    assert!(info.body["user"].as_str().unwrap().contains('@'));
    let rinfo = hs.get(&format!("/oauth/v1/refresh-tokens/{rt2}"), "").await;
    assert_eq!(rinfo.body["client_id"], hs.dir["client_id"]);

    // A refresh answers a new access token and the same refresh token.
    let r = hs.refresh(&rt2).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["refresh_token"], rt2.as_str());
    let at2 = r.body["access_token"].as_str().unwrap().to_owned();
    assert_ne!(at2, at);

    let cid = hs.dir["client_id"].as_str().unwrap().to_owned();
    let secret = hs.dir["client_secret"].as_str().unwrap().to_owned();
    let intro = hs
        .form(
            "/oauth/v3/token/introspect",
            &[
                ("client_id", &cid),
                ("client_secret", &secret),
                ("token", &at2),
            ],
        )
        .await;
    assert_eq!(intro.body["active"], true);
    assert_eq!(intro.body["token_use"], "access_token");
    let revoke = hs
        .form(
            "/oauth/v3/token/revoke",
            &[
                ("client_id", &cid),
                ("client_secret", &secret),
                ("token", &rt2),
            ],
        )
        .await;
    assert_eq!(revoke.status, 200);
    let intro = hs
        .form(
            "/oauth/v3/token/introspect",
            &[
                ("client_id", &cid),
                ("client_secret", &secret),
                ("token", &at2),
            ],
        )
        .await;
    assert_eq!(intro.body, json!({"active": false}));
    let denied = hs.get("/crm/v3/objects/contacts", &at2).await;
    assert_eq!(denied.status, 401);
    assert_eq!(denied.body["category"], "INVALID_AUTHENTICATION");
    let r = hs.refresh(&rt2).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["status"], "BAD_REFRESH_TOKEN");
    assert_eq!(r.body["message"], "missing or invalid refresh token");
}

#[tokio::test]
async fn deny_wrong_secret_and_auto_approve_with_account() {
    let hs = Hs::start().await;
    let resp = hs
        .sb
        .client
        .post(hs.url("/oauth/authorize"))
        .form(&[
            ("client_id", hs.dir["client_id"].as_str().unwrap()),
            ("redirect_uri", "http://localhost:5555/cb"),
            ("state", "zz"),
            ("decision", "deny"),
        ])
        .send()
        .await
        .unwrap();
    let q = query_of(resp.headers()["location"].to_str().unwrap());
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], "zz");

    let code = hs.code(&[], None).await;
    let bad = hs
        .form(
            "/oauth/v1/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", hs.dir["client_id"].as_str().unwrap()),
                ("client_secret", "wrong"),
                ("code", &code),
            ],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["status"], "BAD_CLIENT_SECRET");
    let v3 = hs.exchange("/oauth/v3/token", "no-such-code", None).await;
    assert_eq!(v3.body["status"], "BAD_AUTH_CODE");
    assert_eq!(v3.body["error"], "invalid_grant");

    hs.control("settings", json!({"auto_approve": true})).await;
    let us = hs.hub(1);
    let resp = hs
        .sb
        .client
        .get(hs.url(&format!(
            "/oauth/authorize?client_id={}&redirect_uri=http://localhost:5555/cb&state=q&account={us}",
            hs.dir["client_id"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_redirection());
    let q = query_of(resp.headers()["location"].to_str().unwrap());
    let t = hs.exchange("/oauth/v1/token", &q["code"], None).await;
    assert_eq!(t.body["hub_id"].to_string(), us);
}

#[tokio::test]
async fn pkce_and_code_expiry() {
    let hs = Hs::start().await;
    // RFC 7636 appendix B.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let pkce = [
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    let code = hs.code(&pkce, None).await;
    let wrong = hs.exchange("/oauth/v1/token", &code, Some("not-it")).await;
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.body["status"], "BAD_AUTH_CODE");
    let code = hs.code(&pkce, None).await;
    let missing = hs.exchange("/oauth/v1/token", &code, None).await;
    assert_eq!(missing.status, 400);
    let code = hs.code(&pkce, None).await;
    let ok = hs.exchange("/oauth/v1/token", &code, Some(verifier)).await;
    assert_eq!(ok.status, 200, "{}", ok.text);

    let code = hs.code(&[], None).await;
    hs.control("clock", json!({"advance_seconds": 601})).await;
    let late = hs.exchange("/oauth/v1/token", &code, None).await;
    assert_eq!(late.body["status"], "EXPIRED_AUTH_CODE");
}

#[tokio::test]
async fn access_tokens_expire_by_the_clock_and_refresh() {
    let hs = Hs::start().await;
    hs.control("settings", json!({"access_token_ttl_seconds": 60}))
        .await;
    let t = hs.control("tokens", Value::Null).await;
    assert_eq!(t["expires_in"], 60);
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(hs.get("/crm/v3/objects/contacts", at).await.status, 200);
    hs.control("clock", json!({"advance_seconds": 400})).await;
    let e = hs.get("/crm/v3/objects/contacts", at).await;
    assert_eq!(e.status, 401);
    assert_eq!(e.body["category"], "EXPIRED_AUTHENTICATION");
    assert_eq!(
        e.body["message"],
        "The OAuth token used to make this call expired 5 minute(s) ago."
    );
    assert!(e.body["correlationId"].as_str().unwrap().len() == 36);
    let r = hs.refresh(t["refresh_token"].as_str().unwrap()).await;
    let at2 = r.body["access_token"].as_str().unwrap();
    assert_eq!(hs.get("/crm/v3/objects/contacts", at2).await.status, 200);

    // Faults: expired and revoked tokens.
    hs.control("faults", json!({"kind": "revoked_token"})).await;
    let f = hs.get("/crm/v3/objects/contacts", at2).await;
    assert_eq!(f.status, 401);
    assert_eq!(hs.get("/crm/v3/objects/contacts", at2).await.status, 401);
    let none = hs.get("/crm/v3/objects/contacts", "").await;
    assert_eq!(none.status, 401);
    assert_eq!(none.body["category"], "INVALID_AUTHENTICATION");
}

#[tokio::test]
async fn contacts_crud_with_hubspot_shapes_and_errors() {
    let hs = Hs::start().await;
    let pat = hs.pat(0);
    let a = hs
        .post(
            "/crm/v3/objects/contacts",
            &pat,
            json!({"properties": {"email": "Hanako@Example.co.jp", "firstname": "花子", "lastname": "山田", "phone": "03-1234-5678"}}),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let id = a.body["id"].as_str().unwrap().to_owned();
    assert!(id.parse::<u64>().is_ok());
    assert!(is_hubspot_time(a.body["createdAt"].as_str().unwrap()));
    assert!(is_hubspot_time(a.body["updatedAt"].as_str().unwrap()));
    assert_eq!(a.body["archived"], false);
    assert_eq!(a.body["properties"]["hs_object_id"], id.as_str());
    assert_eq!(a.body["properties"]["firstname"], "花子");
    assert!(is_hubspot_time(
        a.body["properties"]["createdate"].as_str().unwrap()
    ));
    assert!(is_hubspot_time(
        a.body["properties"]["lastmodifieddate"].as_str().unwrap()
    ));

    // Duplicate email: 409 naming the existing id (emails compare without case).
    let dup = hs
        .post(
            "/crm/v3/objects/contacts",
            &pat,
            json!({"properties": {"email": "hanako@example.co.jp"}}),
        )
        .await;
    assert_eq!(dup.status, 409);
    assert_eq!(dup.body["category"], "CONFLICT");
    assert_eq!(dup.body["status"], "error");
    assert_eq!(
        dup.body["message"],
        format!("Contact already exists. Existing ID: {id}")
    );

    // Reads: by id, with properties, by email; 404 with an empty body.
    let r = hs
        .get(
            &format!("/crm/v3/objects/contacts/{id}?properties=phone,jobtitle"),
            &pat,
        )
        .await;
    assert_eq!(r.body["properties"]["phone"], "03-1234-5678");
    assert_eq!(r.body["properties"]["jobtitle"], Value::Null);
    assert!(r.body["properties"].get("firstname").is_none());
    let by_email = hs
        .get(
            "/crm/v3/objects/contacts/HANAKO@example.co.jp?idProperty=email",
            &pat,
        )
        .await;
    assert_eq!(by_email.body["id"], id.as_str());
    let missing = hs.get("/crm/v3/objects/contacts/999", &pat).await;
    assert_eq!(missing.status, 404);
    assert!(missing.text.is_empty());

    // Update.
    hs.control("clock", json!({"advance_seconds": 5})).await;
    let u = hs
        .call(
            Method::PATCH,
            &format!("/crm/v3/objects/contacts/{id}"),
            &pat,
            Some(json!({"properties": {"jobtitle": "部長", "lifecyclestage": "customer"}})),
        )
        .await;
    assert_eq!(u.status, 200, "{}", u.text);
    assert_eq!(u.body["properties"]["jobtitle"], "部長");
    assert_ne!(u.body["updatedAt"], a.body["updatedAt"]);
    let nf = hs
        .call(
            Method::PATCH,
            "/crm/v3/objects/contacts/12345",
            &pat,
            Some(json!({"properties": {"jobtitle": "x"}})),
        )
        .await;
    assert_eq!(nf.status, 404);
    assert_eq!(nf.body["category"], "OBJECT_NOT_FOUND");

    // Bad inputs, each with HubSpot's error code.
    for (props, code) in [
        (json!({"favourite_colour": "red"}), "PROPERTY_DOESNT_EXIST"),
        (json!({"lifecyclestage": "king"}), "INVALID_OPTION"),
        (json!({"associatedcompanyid": "twelve"}), "INVALID_DECIMAL"),
        (json!({"email": "not an email"}), "INVALID_EMAIL"),
        (json!({"hs_object_id": "5"}), "READ_ONLY_VALUE"),
        (json!({"hubspot_owner_id": "1"}), "INVALID_OWNER_ID"),
    ] {
        let bad = hs
            .post(
                "/crm/v3/objects/contacts",
                &pat,
                json!({"properties": props}),
            )
            .await;
        assert_eq!(bad.status, 400, "{props}");
        assert_eq!(bad.body["category"], "VALIDATION_ERROR");
        let msg = bad.body["message"].as_str().unwrap();
        assert!(msg.starts_with("Property values were not valid: "), "{msg}");
        assert!(msg.contains(code), "{code}: {msg}");
    }
    let resp = hs
        .sb
        .client
        .post(hs.url("/crm/v3/objects/contacts"))
        .bearer_auth(&pat)
        .header("content-type", "application/json")
        .body("{\"properties\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid input JSON")
    );
    let unknown_type = hs.get("/crm/v3/objects/widgets", &pat).await;
    assert_eq!(unknown_type.status, 400);

    // Archive: 204, gone from reads and lists, visible with archived=true.
    let d = hs
        .call(
            Method::DELETE,
            &format!("/crm/v3/objects/contacts/{id}"),
            &pat,
            None,
        )
        .await;
    assert_eq!(d.status, 204);
    assert_eq!(
        hs.get(&format!("/crm/v3/objects/contacts/{id}"), &pat)
            .await
            .status,
        404
    );
    let arch = hs
        .get(
            &format!("/crm/v3/objects/contacts/{id}?archived=true"),
            &pat,
        )
        .await;
    assert_eq!(arch.body["archived"], true);
    // The email is free again.
    hs.contact(&pat, json!({"email": "hanako@example.co.jp"}))
        .await;
    // Portals are independent.
    let other = hs.get("/crm/v3/objects/contacts", &hs.pat(1)).await;
    assert_eq!(other.body["results"], json!([]));
}

#[tokio::test]
async fn lists_page_to_the_end() {
    let hs = Hs::start().await;
    hs.control("limits", json!({"enabled": false})).await;
    let summary = hs.control("seed", json!({"count": 230, "seed": 4})).await;
    let total = summary["contacts"].as_u64().unwrap() as usize;
    assert!(total > 200);
    let pat = hs.pat(0);
    let mut after = String::new();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let path = if after.is_empty() {
            "/crm/v3/objects/contacts?limit=100&properties=email&associations=companies".to_owned()
        } else {
            format!(
                "/crm/v3/objects/contacts?limit=100&after={after}&properties=email&associations=companies"
            )
        };
        let page = hs.get(&path, &pat).await;
        assert_eq!(page.status, 200);
        pages += 1;
        for r in page.body["results"].as_array().unwrap() {
            seen.push(r["id"].as_str().unwrap().to_owned());
        }
        match page.body["paging"]["next"]["after"].as_str() {
            Some(a) => {
                assert!(
                    page.body["paging"]["next"]["link"]
                        .as_str()
                        .unwrap()
                        .contains(a)
                );
                after = a.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(pages, total.div_ceil(100));
    let mut dedup = seen.clone();
    dedup.dedup();
    assert_eq!(dedup.len(), total);
    let first = hs
        .get(
            "/crm/v3/objects/contacts?limit=100&associations=companies",
            &pat,
        )
        .await;
    let with_company = first.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r.get("associations").is_some())
        .expect("seeded contacts have companies");
    let types: Vec<&str> = with_company["associations"]["companies"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["type"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"contact_to_company"));
    assert!(types.contains(&"contact_to_company_unlabeled"));
    let too_big = hs.get("/crm/v3/objects/contacts?limit=101", &pat).await;
    assert_eq!(too_big.status, 400);
}

#[tokio::test]
async fn batches_answer_207_on_partial_failure_and_cap_at_100() {
    let hs = Hs::start().await;
    let pat = hs.pat(1);
    let created = hs
        .post(
            "/crm/v3/objects/companies/batch/create",
            &pat,
            json!({"inputs": [
                {"properties": {"name": "Acme", "domain": "acme.com"}},
                {"properties": {"name": "Globex", "domain": "globex.com"}},
            ]}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["status"], "COMPLETE");
    assert!(is_hubspot_time(created.body["startedAt"].as_str().unwrap()));
    let ids: Vec<String> = created.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();

    let read = hs
        .post(
            "/crm/v3/objects/companies/batch/read",
            &pat,
            json!({"inputs": [{"id": ids[0]}, {"id": "424242"}], "properties": ["name"]}),
        )
        .await;
    assert_eq!(read.status, 207);
    assert_eq!(read.body["numErrors"], 1);
    assert_eq!(read.body["errors"][0]["category"], "OBJECT_NOT_FOUND");
    assert_eq!(read.body["errors"][0]["context"]["ids"], json!(["424242"]));
    assert_eq!(read.body["results"][0]["properties"]["name"], "Acme");

    let upd = hs
        .post(
            "/crm/v3/objects/companies/batch/update",
            &pat,
            json!({"inputs": [{"id": ids[1], "properties": {"city": "Seattle"}}, {"id": "1", "properties": {"city": "x"}}]}),
        )
        .await;
    assert_eq!(upd.status, 207);
    assert_eq!(upd.body["results"][0]["properties"]["city"], "Seattle");

    let many: Vec<Value> = (0..101).map(|i| json!({"id": i.to_string()})).collect();
    let over = hs
        .post(
            "/crm/v3/objects/companies/batch/read",
            &pat,
            json!({"inputs": many}),
        )
        .await;
    assert_eq!(over.status, 400);
    assert_eq!(over.body["category"], "VALIDATION_ERROR");
    let history = hs
        .post(
            "/crm/v3/objects/companies/batch/read",
            &pat,
            json!({"inputs": [{"id": "1"}], "propertiesWithHistory": ["name"]}),
        )
        .await;
    assert_eq!(
        history.status, 400,
        "not emulated, so refused rather than ignored"
    );

    // A bad value fails the whole batch create.
    let bad = hs
        .post(
            "/crm/v3/objects/companies/batch/create",
            &pat,
            json!({"inputs": [{"properties": {"name": "ok"}}, {"properties": {"industry": "nope"}}]}),
        )
        .await;
    assert_eq!(bad.status, 400);
    let list = hs.get("/crm/v3/objects/companies", &pat).await;
    assert_eq!(list.body["results"].as_array().unwrap().len(), 2);

    // Upsert by email: one new, one existing.
    let existing = hs.contact(&pat, json!({"email": "liam@globex.com"})).await;
    let up = hs
        .post(
            "/crm/v3/objects/contacts/batch/upsert",
            &pat,
            json!({"inputs": [
                {"id": "liam@globex.com", "idProperty": "email", "properties": {"firstname": "Liam"}},
                {"id": "ava@acme.com", "idProperty": "email", "properties": {"firstname": "Ava"}},
            ]}),
        )
        .await;
    assert_eq!(up.status, 200, "{}", up.text);
    assert_eq!(up.body["results"][0]["id"], existing.as_str());
    assert_eq!(up.body["results"][0]["new"], false);
    assert_eq!(up.body["results"][1]["new"], true);
    assert_eq!(up.body["results"][1]["properties"]["email"], "ava@acme.com");

    let arch = hs
        .post(
            "/crm/v3/objects/companies/batch/archive",
            &pat,
            json!({"inputs": [{"id": ids[0]}, {"id": "777"}]}),
        )
        .await;
    assert_eq!(arch.status, 204);
    let list = hs.get("/crm/v3/objects/companies", &pat).await;
    assert_eq!(list.body["results"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn search_operators_limits_sorting_and_paging() {
    let hs = Hs::start().await;
    hs.control("limits", json!({"enabled": false})).await;
    let pat = hs.pat(0);
    let people = [
        ("ann@acme.com", "Ann", "Lee", Some("10"), "lead"),
        ("bob@acme.com", "Bob", "Lee", Some("20"), "customer"),
        ("cho@globex.com", "Cho", "Kim", Some("30"), "lead"),
        ("dan@initech.com", "Dan", "Park", None, "customer"),
    ];
    let mut ids = Vec::new();
    for (email, first, last, company_id, stage) in people {
        let mut p =
            json!({"email": email, "firstname": first, "lastname": last, "lifecyclestage": stage});
        if let Some(c) = company_id {
            p["associatedcompanyid"] = json!(c);
        }
        ids.push(hs.contact(&pat, p).await);
    }
    let search = |filters: Value| {
        let hs = &hs;
        let pat = pat.clone();
        async move {
            let a = hs
                .post(
                    "/crm/v3/objects/contacts/search",
                    &pat,
                    json!({"filterGroups": [{"filters": filters}], "properties": ["firstname"], "limit": 100}),
                )
                .await;
            assert_eq!(a.status, 200, "{}", a.text);
            let mut names: Vec<String> = a.body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["properties"]["firstname"].as_str().unwrap().to_owned())
                .collect();
            names.sort();
            assert_eq!(a.body["total"].as_u64().unwrap() as usize, names.len());
            names.join(",")
        }
    };
    let f = |p: &str, op: &str, v: Value| json!([{"propertyName": p, "operator": op, "value": v}]);
    for (filters, expected) in [
        (f("lastname", "EQ", json!("lee")), "Ann,Bob"),
        (f("lastname", "NEQ", json!("Lee")), "Cho,Dan"),
        (f("associatedcompanyid", "LT", json!("20")), "Ann"),
        (f("associatedcompanyid", "LTE", json!(20)), "Ann,Bob"),
        (f("associatedcompanyid", "GT", json!("10")), "Bob,Cho"),
        (f("associatedcompanyid", "GTE", json!("30")), "Cho"),
        (
            json!([{"propertyName": "associatedcompanyid", "operator": "BETWEEN", "value": "15", "highValue": "30"}]),
            "Bob,Cho",
        ),
        (
            json!([{"propertyName": "lifecyclestage", "operator": "IN", "values": ["customer"]}]),
            "Bob,Dan",
        ),
        (
            json!([{"propertyName": "firstname", "operator": "NOT_IN", "values": ["ann", "bob"]}]),
            "Cho,Dan",
        ),
        (
            json!([{"propertyName": "associatedcompanyid", "operator": "HAS_PROPERTY"}]),
            "Ann,Bob,Cho",
        ),
        (
            json!([{"propertyName": "associatedcompanyid", "operator": "NOT_HAS_PROPERTY"}]),
            "Dan",
        ),
        (f("email", "CONTAINS_TOKEN", json!("acme")), "Ann,Bob"),
        (f("email", "CONTAINS_TOKEN", json!("*@globex.com")), "Cho"),
        (f("email", "NOT_CONTAINS_TOKEN", json!("acme")), "Cho,Dan"),
        (
            json!([
                {"propertyName": "lastname", "operator": "EQ", "value": "Lee"},
                {"propertyName": "lifecyclestage", "operator": "EQ", "value": "lead"},
            ]),
            "Ann",
        ),
        (f("hs_object_id", "EQ", json!(ids[3])), "Dan"),
    ] {
        assert_eq!(search(filters.clone()).await, expected, "{filters}");
    }
    // Groups are ORed.
    let or = hs
        .post(
            "/crm/v3/objects/contacts/search",
            &pat,
            json!({"filterGroups": [
                {"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "Ann"}]},
                {"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "Dan"}]},
            ]}),
        )
        .await;
    assert_eq!(or.body["total"], 2);

    // Sorting, query, paging to the end.
    let sorted = hs
        .post(
            "/crm/v3/objects/contacts/search",
            &pat,
            json!({"sorts": [{"propertyName": "firstname", "direction": "DESCENDING"}], "properties": ["firstname"], "limit": 3}),
        )
        .await;
    assert_eq!(sorted.body["results"][0]["properties"]["firstname"], "Dan");
    assert_eq!(sorted.body["paging"]["next"]["after"], "3");
    let rest = hs
        .post(
            "/crm/v3/objects/contacts/search",
            &pat,
            json!({"sorts": [{"propertyName": "firstname", "direction": "DESCENDING"}], "properties": ["firstname"], "limit": 3, "after": "3"}),
        )
        .await;
    assert_eq!(rest.body["results"][0]["properties"]["firstname"], "Ann");
    assert!(rest.body.get("paging").is_none());
    let q = hs
        .post(
            "/crm/v3/objects/contacts/search",
            &pat,
            json!({"query": "globex"}),
        )
        .await;
    assert_eq!(q.body["total"], 1);
    assert_eq!(q.body["results"][0]["id"], ids[2].as_str());

    // The documented limits.
    let filter = json!({"propertyName": "firstname", "operator": "HAS_PROPERTY"});
    let groups = |g: usize, per: usize| json!({"filterGroups": (0..g).map(|_| json!({"filters": vec![filter.clone(); per]})).collect::<Vec<_>>()});
    for (body, ok) in [
        (groups(5, 3), true),
        (groups(6, 1), false),
        (groups(1, 6), true),
        (groups(1, 7), false),
        (groups(3, 6), true),
        (groups(4, 5), false), // 20 filters > 18
        (json!({"limit": 200}), true),
        (json!({"limit": 201}), false),
        (json!({"after": "9900", "limit": 100}), true),
        (json!({"after": "9950", "limit": 100}), false),
        (
            json!({"filterGroups": [{"filters": [{"propertyName": "nope", "operator": "EQ", "value": "x"}]}]}),
            false,
        ),
        (
            json!({"filterGroups": [{"filters": [{"propertyName": "email", "operator": "LIKE", "value": "x"}]}]}),
            false,
        ),
    ] {
        let a = hs
            .post("/crm/v3/objects/contacts/search", &pat, body.clone())
            .await;
        assert_eq!(a.status == 200, ok, "{body}: {}", a.text);
        if !ok {
            assert_eq!(a.body["category"], "VALIDATION_ERROR");
        }
    }
}

#[tokio::test]
async fn associations_v3_and_v4() {
    let hs = Hs::start().await;
    let pat = hs.pat(0);
    let company = hs
        .post(
            "/crm/v3/objects/companies",
            &pat,
            json!({"properties": {"name": "さくら商事"}}),
        )
        .await;
    let cid = company.body["id"].as_str().unwrap().to_owned();
    let contact = hs
        .post(
            "/crm/v3/objects/contacts",
            &pat,
            json!({"properties": {"email": "a@sakura.co.jp"}, "associations": [
                {"to": {"id": cid}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}]}
            ]}),
        )
        .await;
    assert_eq!(contact.status, 201, "{}", contact.text);
    let pid = contact.body["id"].as_str().unwrap().to_owned();
    let bad = hs
        .post(
            "/crm/v3/objects/contacts",
            &pat,
            json!({"properties": {}, "associations": [
                {"to": {"id": "1"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}]}
            ]}),
        )
        .await;
    assert_eq!(bad.status, 400);

    let v4 = hs
        .get(
            &format!("/crm/v4/objects/companies/{cid}/associations/contacts"),
            &pat,
        )
        .await;
    assert_eq!(v4.body["results"][0]["toObjectId"].to_string(), pid);
    assert_eq!(v4.body["results"][0]["associationTypes"][0]["typeId"], 280);

    let deal = hs
        .post(
            "/crm/v3/objects/deals",
            &pat,
            json!({"properties": {"dealname": "大型案件", "amount": "1000000", "dealstage": "qualifiedtobuy", "pipeline": "default"}}),
        )
        .await;
    let did = deal.body["id"].as_str().unwrap().to_owned();
    let def = hs
        .call(
            Method::PUT,
            &format!("/crm/v4/objects/deals/{did}/associations/default/contacts/{pid}"),
            &pat,
            None,
        )
        .await;
    assert_eq!(def.status, 200, "{}", def.text);
    assert_eq!(
        def.body["results"][0]["associationSpec"]["associationTypeId"],
        3
    );
    let labelled = hs
        .call(
            Method::PUT,
            &format!("/crm/v4/objects/deals/{did}/associations/companies/{cid}"),
            &pat,
            Some(json!([{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}])),
        )
        .await;
    assert_eq!(labelled.status, 201, "{}", labelled.text);
    assert_eq!(labelled.body["labels"], json!(["Primary"]));
    let wrong = hs
        .call(
            Method::PUT,
            &format!("/crm/v4/objects/deals/{did}/associations/companies/{cid}"),
            &pat,
            Some(json!([{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}])),
        )
        .await;
    assert_eq!(wrong.status, 400);
    let labels = hs
        .get("/crm/v4/associations/contacts/companies/labels", &pat)
        .await;
    let ids: Vec<i64> = labels.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["typeId"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![279, 1]);

    let batch = hs
        .post(
            "/crm/v4/associations/contacts/deals/batch/read",
            &pat,
            json!({"inputs": [{"id": pid}]}),
        )
        .await;
    assert_eq!(
        batch.body["results"][0]["to"][0]["toObjectId"].to_string(),
        did
    );
    assert_eq!(
        batch.body["results"][0]["to"][0]["associationTypes"][0]["typeId"],
        4
    );

    let del = hs
        .call(
            Method::DELETE,
            &format!("/crm/v4/objects/contacts/{pid}/associations/deals/{did}"),
            &pat,
            None,
        )
        .await;
    assert_eq!(del.status, 204);
    let after = hs
        .get(
            &format!("/crm/v3/objects/deals/{did}?associations=contacts,companies"),
            &pat,
        )
        .await;
    assert!(after.body["associations"].get("contacts").is_none());
    assert_eq!(
        after.body["associations"]["companies"]["results"][0]["type"],
        "deal_to_company"
    );
}

#[tokio::test]
async fn properties_owners_and_account_details() {
    let hs = Hs::start().await;
    let pat = hs.pat(0);
    let list = hs.get("/crm/v3/properties/contacts", &pat).await;
    let email = list.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "email")
        .unwrap()
        .clone();
    assert_eq!(email["type"], "string");
    assert_eq!(email["fieldType"], "text");
    let stage = hs
        .get("/crm/v3/properties/contacts/lifecyclestage", &pat)
        .await;
    assert_eq!(stage.body["type"], "enumeration");
    assert!(
        stage.body["options"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["value"] == "customer")
    );
    let custom = json!({
        "name": "renkei_tier", "label": "Tier", "type": "enumeration", "fieldType": "select",
        "groupName": "contactinformation",
        "options": [{"label": "Gold", "value": "gold"}, {"label": "Silver", "value": "silver"}],
        "hidden": true, "formField": false,
    });
    let c = hs
        .post("/crm/v3/properties/contacts", &pat, custom.clone())
        .await;
    assert_eq!(c.status, 201, "{}", c.text);
    assert_eq!(c.body["options"][1]["value"], "silver");
    assert_eq!(
        (&c.body["hidden"], &c.body["formField"]),
        (&json!(true), &json!(false))
    );
    let shown = hs
        .call(
            Method::PATCH,
            "/crm/v3/properties/contacts/renkei_tier",
            &pat,
            Some(json!({"hidden": false})),
        )
        .await;
    assert_eq!(shown.body["hidden"], false, "{}", shown.text);
    assert_eq!(
        hs.post("/crm/v3/properties/contacts", &pat, custom)
            .await
            .status,
        409
    );
    hs.contact(&pat, json!({"renkei_tier": "gold"})).await;
    let bad = hs
        .post(
            "/crm/v3/objects/contacts",
            &pat,
            json!({"properties": {"renkei_tier": "bronze"}}),
        )
        .await;
    assert!(
        bad.body["message"]
            .as_str()
            .unwrap()
            .contains("INVALID_OPTION")
    );
    // Custom properties do not exist in the other portal.
    assert_eq!(
        hs.get("/crm/v3/properties/contacts/renkei_tier", &hs.pat(1))
            .await
            .status,
        404
    );

    let owners = hs.get("/crm/v3/owners/?limit=2", &pat).await;
    assert_eq!(owners.body["results"].as_array().unwrap().len(), 2);
    let archived = hs.get("/crm/v3/owners/?archived=true", &pat).await;
    assert_eq!(
        archived.body["results"],
        json!([]),
        "no owner is deactivated"
    );
    let after = owners.body["paging"]["next"]["after"].as_str().unwrap();
    let rest = hs
        .get(&format!("/crm/v3/owners/?limit=2&after={after}"), &pat)
        .await;
    assert_eq!(rest.body["results"].as_array().unwrap().len(), 1);
    let email = hs.dir["accounts"][0]["owners"][1]["email"]
        .as_str()
        .unwrap();
    let one = hs
        .get(&format!("/crm/v3/owners/?email={email}"), &pat)
        .await;
    assert_eq!(one.body["results"][0]["email"], email);
    let oid = one.body["results"][0]["id"].as_str().unwrap();
    assert_eq!(
        hs.get(&format!("/crm/v3/owners/{oid}"), &pat).await.body["id"],
        oid
    );
    let assigned = hs
        .post(
            "/crm/v3/objects/contacts",
            &pat,
            json!({"properties": {"hubspot_owner_id": oid}}),
        )
        .await;
    assert_eq!(assigned.status, 201);

    let details = hs.get("/account-info/v3/details", &pat).await;
    assert_eq!(details.body["portalId"].to_string(), hs.hub(0));
    assert_eq!(details.body["timeZone"], "Asia/Tokyo");
    assert_eq!(details.body["utcOffset"], "+09:00");
}

/// An owner archived through the sandbox's control route (what deactivating its user does in
/// HubSpot) leaves the owners list for `?archived=true`, and its id is refused as
/// `hubspot_owner_id` exactly as an id HubSpot never had; restored, it takes records again.
#[tokio::test]
async fn an_archived_owner_is_refused_like_an_unknown_one() {
    let hs = Hs::start().await;
    let pat = hs.pat(0);
    let owner = hs.dir["accounts"][0]["owners"][1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let with_owner =
        |id: &str| json!({"properties": {"lastname": "Owned", "hubspot_owner_id": id}});
    let a = hs
        .post("/crm/v3/objects/contacts", &pat, with_owner(&owner))
        .await;
    assert_eq!(a.status, 201, "{}", a.text);

    let archived = hs
        .control(&format!("owners/{owner}/archive"), json!({}))
        .await;
    assert_eq!(
        (&archived["id"], &archived["archived"]),
        (&json!(owner), &json!(true))
    );
    assert!(archived.get("userId").is_none(), "{archived}");
    assert!(archived["userIdIncludingInactive"].is_u64(), "{archived}");

    let ids = |a: &Answer| -> Vec<String> {
        a.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let active = hs.get("/crm/v3/owners/", &pat).await;
    assert_eq!(ids(&active).len(), 2);
    assert!(!ids(&active).contains(&owner));
    let gone = hs.get("/crm/v3/owners/?archived=true", &pat).await;
    assert_eq!(ids(&gone), vec![owner.clone()]);
    assert_eq!(gone.body["results"][0]["archived"], true);
    assert_eq!(
        hs.get(&format!("/crm/v3/owners/{owner}"), &pat)
            .await
            .status,
        404
    );
    assert_eq!(
        hs.get(&format!("/crm/v3/owners/{owner}?archived=true"), &pat)
            .await
            .body["id"],
        owner
    );

    // The same 400 as for an owner id that never existed, but for the id.
    let refused = hs
        .post("/crm/v3/objects/contacts", &pat, with_owner(&owner))
        .await;
    let unknown = hs
        .post("/crm/v3/objects/contacts", &pat, with_owner("999999"))
        .await;
    assert_eq!(
        (refused.status, unknown.status),
        (400, 400),
        "{}",
        refused.text
    );
    let shape = |a: &Answer, id: &str| {
        let mut b = a.body.clone();
        b["correlationId"] = Value::Null;
        b.to_string().replace(id, "<id>")
    };
    assert_eq!(shape(&refused, &owner), shape(&unknown, "999999"));
    assert_eq!(refused.body["errors"][0]["code"], "INVALID_OWNER_ID");
    assert_eq!(
        refused.body["errors"][0]["message"],
        format!("{owner} is not a valid owner id")
    );
    // Nor may an update give a record to it.
    let c = hs.contact(&pat, json!({"lastname": "Other"})).await;
    let r = hs
        .call(
            Method::PATCH,
            &format!("/crm/v3/objects/contacts/{c}"),
            &pat,
            Some(json!({"properties": {"hubspot_owner_id": owner}})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);

    let restored = hs
        .control(&format!("owners/{owner}/restore"), json!({}))
        .await;
    assert_eq!(restored["archived"], false);
    let a = hs
        .post("/crm/v3/objects/contacts", &pat, with_owner(&owner))
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let r = hs
        .sb
        .client
        .post(hs.sb.url(P, "/_control/owners/424242/archive"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn rate_limits_with_hubspot_headers_and_429s() {
    let hs = Hs::start().await;
    let pat = hs.pat(0);
    let a = hs.get("/crm/v3/objects/contacts", &pat).await;
    for h in [
        "x-hubspot-ratelimit-daily",
        "x-hubspot-ratelimit-daily-remaining",
        "x-hubspot-ratelimit-interval-milliseconds",
        "x-hubspot-ratelimit-max",
        "x-hubspot-ratelimit-remaining",
        "x-hubspot-ratelimit-secondly",
        "x-hubspot-ratelimit-secondly-remaining",
    ] {
        assert!(a.headers.contains_key(h), "private app: {h}");
    }
    assert_eq!(a.headers["x-hubspot-ratelimit-max"], "190");
    assert_eq!(a.headers["x-hubspot-ratelimit-remaining"], "189");
    assert_eq!(a.headers["x-hubspot-ratelimit-daily"], "625000");

    let t = hs.control("tokens", Value::Null).await;
    let at = t["access_token"].as_str().unwrap();
    let o = hs.get("/crm/v3/objects/contacts", at).await;
    assert_eq!(o.headers["x-hubspot-ratelimit-max"], "110");
    assert!(
        !o.headers.contains_key("x-hubspot-ratelimit-daily"),
        "OAuth calls have no daily limit"
    );

    hs.control("limits", json!({"oauth_ten_second_max": 3}))
        .await;
    hs.control("clock", json!({"advance_seconds": 11})).await;
    for _ in 0..3 {
        assert_eq!(hs.get("/crm/v3/objects/contacts", at).await.status, 200);
    }
    let limited = hs.get("/crm/v3/objects/contacts", at).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.body["errorType"], "RATE_LIMIT");
    assert_eq!(limited.body["policyName"], "TEN_SECONDLY_ROLLING");
    assert_eq!(
        limited.body["message"],
        "You have reached your ten_secondly_rolling limit."
    );
    assert_eq!(limited.headers["x-hubspot-ratelimit-remaining"], "0");
    hs.control("clock", json!({"advance_seconds": 11})).await;
    assert_eq!(hs.get("/crm/v3/objects/contacts", at).await.status, 200);

    hs.control("limits", json!({"private_app_daily_max": 2}))
        .await;
    hs.get("/crm/v3/objects/contacts", &pat).await;
    let daily = hs.get("/crm/v3/objects/contacts", &pat).await;
    assert_eq!(daily.status, 429);
    assert_eq!(daily.body["policyName"], "DAILY");
    // The other portal's private app has its own day.
    assert_eq!(
        hs.get("/crm/v3/objects/contacts", &hs.pat(1)).await.status,
        200
    );

    hs.control(
        "limits",
        json!({"search_per_second": 2, "private_app_daily_max": 625_000}),
    )
    .await;
    let pat1 = hs.pat(1);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let s = hs
            .post("/crm/v3/objects/contacts/search", &pat1, json!({}))
            .await;
        if s.status == 429 {
            assert_eq!(s.body["policyName"], "SECONDLY");
        } else {
            assert!(
                !s.headers.contains_key("x-hubspot-ratelimit-max"),
                "search answers carry no rate-limit headers"
            );
        }
        statuses.push(s.status);
    }
    assert_eq!(statuses, vec![200, 200, 429]);

    let unknown = hs
        .sb
        .client
        .post(hs.url("/_control/limits"))
        .json(&json!({"per_minute": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
    assert!(unknown.text().await.unwrap().contains("per_minute"));
    let bad_setting = hs
        .sb
        .client
        .post(hs.url("/_control/settings"))
        .json(&json!({"webhook_url": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_setting.status(), 400);
}

#[tokio::test]
async fn webhooks_are_delivered_signed_with_v3() {
    use axum::body::Bytes;
    use axum::http::HeaderMap;

    let hs = Hs::start().await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(HeaderMap, String)>();
    let failures = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(1));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            let failures = failures.clone();
            async move {
                // The first delivery fails, to see the retry.
                if failures
                    .fetch_update(
                        std::sync::atomic::Ordering::SeqCst,
                        std::sync::atomic::Ordering::SeqCst,
                        |n| n.checked_sub(1),
                    )
                    .is_ok()
                {
                    return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                }
                let _ = tx.send((headers, String::from_utf8(body.to_vec()).unwrap()));
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    hs.control("settings", json!({"webhook_url": url})).await;

    let pat = hs.pat(0);
    let id = hs.contact(&pat, json!({"email": "hook@example.com"})).await;
    let (headers, body) = next_hook(&mut rx).await;
    let ts = headers["x-hubspot-request-timestamp"].to_str().unwrap();
    let secret = hs.dir["client_secret"].as_str().unwrap();
    let expected = {
        use base64::Engine as _;
        use hmac::Mac as _;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("POST{url}{body}{ts}").as_bytes());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    };
    assert_eq!(headers["x-hubspot-signature-v3"], expected.as_str());
    assert_eq!(headers["x-hubspot-signature-version"], "v1");
    let events: Value = serde_json::from_str(&body).unwrap();
    let e = &events[0];
    assert_eq!(e["subscriptionType"], "contact.creation");
    assert_eq!(e["objectId"].to_string(), id);
    assert_eq!(e["portalId"].to_string(), hs.hub(0));
    assert_eq!(e["attemptNumber"], 1, "the first attempt was refused");
    for f in [
        "eventId",
        "subscriptionId",
        "appId",
        "occurredAt",
        "changeSource",
    ] {
        assert!(!e[f].is_null(), "{f}");
    }

    hs.call(
        Method::PATCH,
        &format!("/crm/v3/objects/contacts/{id}"),
        &pat,
        Some(json!({"properties": {"firstname": "Hook"}})),
    )
    .await;
    let (_, body) = next_hook(&mut rx).await;
    let events: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(events[0]["subscriptionType"], "contact.propertyChange");
    assert_eq!(events[0]["propertyName"], "firstname");
    assert_eq!(events[0]["propertyValue"], "Hook");

    hs.post(
        "/crm/v3/objects/companies",
        &pat,
        json!({"properties": {"name": "Hooli"}}),
    )
    .await;
    let (_, body) = next_hook(&mut rx).await;
    assert!(body.contains("company.creation"));

    hs.call(
        Method::DELETE,
        &format!("/crm/v3/objects/contacts/{id}"),
        &pat,
        None,
    )
    .await;
    let (_, body) = next_hook(&mut rx).await;
    assert!(body.contains("contact.deletion"));
}

#[tokio::test]
async fn the_ui_shows_the_chosen_portal() {
    let hs = Hs::start().await;
    hs.control(
        "seed",
        json!({"count": 12, "seed": 2, "account": hs.hub(1)}),
    )
    .await;
    let page = hs
        .sb
        .client
        .get(hs.url(&format!("/_ui?account={}", hs.hub(1))))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<table") && page.contains("contacts"));
    let first = hs
        .sb
        .client
        .get(hs.url("/_ui"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!first.contains("<table"), "the first portal is empty");
}

async fn next_hook(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(axum::http::HeaderMap, String)>,
) -> (axum::http::HeaderMap, String) {
    tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
        .await
        .expect("a webhook arrives")
        .unwrap()
}

#[tokio::test]
async fn engagements_need_a_timestamp_and_take_hubspots_association_types() {
    let hs = Hs::start().await;
    let pat = hs.pat(0);
    let contact = hs.contact(&pat, json!({"lastname": "山田"})).await;
    let other = hs.contact(&pat, json!({"lastname": "佐藤"})).await;
    let assoc = |id: &str, type_id: i64| json!([{"to": {"id": id}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]}]);

    // hs_timestamp is required on every engagement, and the refusal names it.
    let missing = hs
        .post(
            "/crm/v3/objects/calls",
            &pat,
            json!({"properties": {"hs_call_title": "t"}}),
        )
        .await;
    assert_eq!(missing.status, 400, "{}", missing.text);
    assert_eq!(missing.body["category"], "VALIDATION_ERROR");
    assert_eq!(
        missing.body["errors"][0]["context"]["propertyName"],
        json!(["hs_timestamp"])
    );

    // Call → contact is 194 (contact → call 193): HubSpot's direction, not the inverse.
    let wrong_way = hs
        .post(
            "/crm/v3/objects/calls",
            &pat,
            json!({"properties": {"hs_timestamp": "1763700000123"}, "associations": assoc(&contact, 193)}),
        )
        .await;
    assert_eq!(wrong_way.status, 400, "{}", wrong_way.text);
    let call = hs
        .post(
            "/crm/v3/objects/calls",
            &pat,
            json!({"properties": {"hs_timestamp": "1763700000123", "hs_call_title": "通話",
                   "hs_call_recording_url": "https://rec.example.com/1.mp3"},
                   "associations": assoc(&contact, 194)}),
        )
        .await;
    assert_eq!(call.status, 201, "{}", call.text);
    let call_id = call.body["id"].as_str().unwrap().to_owned();
    let from_contact = hs
        .get(
            &format!("/crm/v4/objects/contacts/{contact}/associations/calls"),
            &pat,
        )
        .await;
    assert_eq!(
        from_contact.body["results"][0]["toObjectId"].to_string(),
        call_id
    );
    assert_eq!(
        from_contact.body["results"][0]["associationTypes"][0]["typeId"],
        193
    );
    for (ty, to_contact) in [
        ("notes", 202),
        ("tasks", 204),
        ("emails", 198),
        ("meetings", 200),
    ] {
        let a = hs
            .post(
                &format!("/crm/v3/objects/{ty}"),
                &pat,
                json!({"properties": {"hs_timestamp": "2025-11-21T04:40:00.123Z"}, "associations": assoc(&contact, to_contact)}),
            )
            .await;
        assert_eq!(a.status, 201, "{ty}: {}", a.text);
    }

    // Search through associations: `associations.contact` EQ or IN an id.
    let search = |filters: Value| {
        let hs = &hs;
        let pat = pat.clone();
        async move {
            hs.post(
                "/crm/v3/objects/calls/search",
                &pat,
                json!({"filterGroups": [{"filters": filters}]}),
            )
            .await
        }
    };
    let by_contact = search(json!([
        {"propertyName": "hs_timestamp", "operator": "EQ", "value": "1763700000123"},
        {"propertyName": "associations.contact", "operator": "EQ", "value": contact},
    ]))
    .await;
    assert_eq!(by_contact.status, 200, "{}", by_contact.text);
    assert_eq!(by_contact.body["total"], 1);
    assert_eq!(by_contact.body["results"][0]["id"], call_id.as_str());
    let other_contact = search(json!([
        {"propertyName": "associations.contact", "operator": "EQ", "value": other},
    ]))
    .await;
    assert_eq!(other_contact.body["total"], 0);
    let any_of = search(json!([
        {"propertyName": "associations.contacts", "operator": "IN", "values": [other, contact]},
    ]))
    .await;
    assert_eq!(any_of.body["total"], 1);
    let unsupported = search(json!([
        {"propertyName": "associations.contact", "operator": "GT", "value": "1"},
    ]))
    .await;
    assert_eq!(unsupported.status, 400, "{}", unsupported.text);
}

#[tokio::test]
async fn invalid_property_values_are_listed_in_errors_with_their_names() {
    let hs = Hs::start().await;
    let pat = hs.pat(0);
    let a = hs
        .post(
            "/crm/v3/objects/deals",
            &pat,
            json!({"properties": {"dealname": "x", "no_such_prop": "1", "dealstage": "nowhere"}}),
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.text);
    assert!(
        a.body["message"]
            .as_str()
            .unwrap()
            .starts_with("Property values were not valid: [")
    );
    let mut errors: Vec<(String, String)> = a.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap().to_owned(),
                e["context"]["propertyName"][0].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    errors.sort();
    assert_eq!(
        errors,
        vec![
            ("INVALID_OPTION".to_owned(), "dealstage".to_owned()),
            (
                "PROPERTY_DOESNT_EXIST".to_owned(),
                "no_such_prop".to_owned()
            ),
        ]
    );
}
