//! The Zoho CRM emulator over HTTP: Zoho Accounts per data centre (consent, codes, PKCE,
//! refresh, revoke, tenant clients), the CRM v8 record API (CRUD, paging, search, upsert,
//! notes, errors), scopes, limits, and the responses validated against Zoho's OpenAPI files.

use serde_json::{Value, json};

use crate::support::TestSandbox;

const Z: &str = "zoho";

struct Dir {
    client_id: String,
    client_secret: String,
    jp_org: String,
    com_org: String,
}

async fn dir(sb: &TestSandbox) -> Dir {
    let (_, d) = sb.get_json(&format!("{}/sandbox", sb.origin)).await;
    let p = &d["providers"][Z];
    let org = |dc: &str| {
        p["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["data_centre"] == dc)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    Dir {
        client_id: p["client_id"].as_str().unwrap().into(),
        client_secret: p["client_secret"].as_str().unwrap().into(),
        jp_org: org("jp"),
        com_org: org("com"),
    }
}

fn query(location: &str) -> std::collections::HashMap<String, String> {
    let q = location.split_once('?').map(|x| x.1).unwrap_or("");
    renkei_sandbox_pairs(q)
}

fn renkei_sandbox_pairs(q: &str) -> std::collections::HashMap<String, String> {
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), pct_decode(v)))
        .collect()
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Runs the auto-approved code flow for `account` and answers the token response.
async fn tokens(sb: &TestSandbox, d: &Dir, account: &str, scope: &str) -> Value {
    sb.control(Z, "settings", json!({"auto_approve": true}))
        .await;
    let resp = sb
        .client
        .get(sb.url(Z, "/com/accounts/oauth/v2/auth"))
        .query(&[
            ("client_id", d.client_id.as_str()),
            ("response_type", "code"),
            ("redirect_uri", "http://localhost/cb"),
            ("scope", scope),
            ("access_type", "offline"),
            ("account", account),
        ])
        .send()
        .await
        .unwrap();
    let q = query(resp.headers()["location"].to_str().unwrap());
    // The token request goes to the accounts server the redirect names; `location` is the
    // region (`us` for the com data centre).
    let expected_location = if q["accounts-server"].ends_with("/com/accounts") {
        "us"
    } else {
        "jp"
    };
    assert_eq!(q["location"], expected_location);
    let resp = sb
        .client
        .post(format!("{}/oauth/v2/token", q["accounts-server"]))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", &d.client_id),
            ("client_secret", &d.client_secret),
            ("redirect_uri", "http://localhost/cb"),
            ("code", &q["code"]),
        ])
        .send()
        .await
        .unwrap();
    resp.json().await.unwrap()
}

const ALL: &str = "ZohoCRM.modules.ALL,ZohoCRM.settings.ALL,ZohoCRM.users.ALL,ZohoCRM.org.ALL";

async fn call(
    sb: &TestSandbox,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = sb
        .client
        .request(method, url)
        .header("Authorization", format!("Zoho-oauthtoken {token}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers,
    )
}

#[tokio::test]
async fn consent_code_pkce_refresh_and_revoke_follow_zoho_accounts() {
    let sb = TestSandbox::start().await;
    let d = dir(&sb).await;
    let auth = sb.url(Z, "/com/accounts/oauth/v2/auth");
    let base_q = [
        ("client_id", d.client_id.as_str()),
        ("response_type", "code"),
        ("redirect_uri", "http://localhost/cb"),
        ("scope", "ZohoCRM.modules.ALL,ZohoCRM.users.READ"),
        ("state", "s1"),
        ("access_type", "offline"),
    ];
    // The consent page lists the orgs of every data centre.
    let page = sb.client.get(&auth).query(&base_q).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&d.jp_org) && html.contains(&d.com_org),
        "{html}"
    );
    // Deny.
    let mut form: Vec<(&str, &str)> = base_q.to_vec();
    form.push(("decision", "deny"));
    form.push(("account", &d.jp_org));
    let resp = sb.client.post(&auth).form(&form).send().await.unwrap();
    let loc = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        loc.contains("error=access_denied") && loc.contains("state=s1"),
        "{loc}"
    );
    // Approve with PKCE (S256, RFC 7636 appendix B).
    let mut form: Vec<(&str, &str)> = base_q.to_vec();
    form.extend([
        ("decision", "approve"),
        ("account", d.jp_org.as_str()),
        (
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        ),
        ("code_challenge_method", "S256"),
    ]);
    let resp = sb.client.post(&auth).form(&form).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    let q = query(resp.headers()["location"].to_str().unwrap());
    assert_eq!(q["state"], "s1");
    assert_eq!(q["location"], "jp");
    assert_eq!(q["accounts-server"], sb.url(Z, "/jp/accounts"));
    let code = q["code"].clone();
    assert!(code.starts_with("1000.") && code.len() == 70, "{code}");

    let token_at = |dc: &str, form: Vec<(&'static str, String)>| {
        let url = sb.url(Z, &format!("/{dc}/accounts/oauth/v2/token"));
        let client = sb.client.clone();
        async move {
            let resp = client.post(url).form(&form).send().await.unwrap();
            assert_eq!(resp.status(), 200, "Zoho answers token errors with 200 too");
            resp.json::<Value>().await.unwrap()
        }
    };
    let exchange = |code: &str, verifier: &str| {
        vec![
            ("grant_type", "authorization_code".to_string()),
            ("client_id", d.client_id.clone()),
            ("client_secret", d.client_secret.clone()),
            ("redirect_uri", "http://localhost/cb".to_string()),
            ("code", code.to_string()),
            ("code_verifier", verifier.to_string()),
        ]
    };
    let good = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    // At the wrong data centre the code does not exist.
    assert_eq!(
        token_at("com", exchange(&code, good)).await,
        json!({"error": "invalid_code"})
    );
    // Bad secret, then a wrong verifier.
    let mut bad_secret = exchange(&code, good);
    bad_secret[2].1 = "nope".into();
    assert_eq!(
        token_at("jp", bad_secret).await,
        json!({"error": "invalid_client_secret"})
    );
    let mut bad_client = exchange(&code, good);
    bad_client[1].1 = "1000.NOPE".into();
    assert_eq!(
        token_at("jp", bad_client).await,
        json!({"error": "invalid_client"})
    );
    assert_eq!(
        token_at(
            "jp",
            exchange(&code, "wrong-verifier-wrong-verifier-wrong-verifier")
        )
        .await,
        json!({"error": "invalid_code"})
    );

    // A fresh code, redeemed properly.
    let resp = sb.client.post(&auth).form(&form).send().await.unwrap();
    let code = query(resp.headers()["location"].to_str().unwrap())["code"].clone();
    let t = token_at("jp", exchange(&code, good)).await;
    let keys: Vec<&str> = t.as_object().unwrap().keys().map(String::as_str).collect();
    for k in [
        "access_token",
        "refresh_token",
        "scope",
        "api_domain",
        "token_type",
        "expires_in",
    ] {
        assert!(keys.contains(&k), "{k} in {t}");
    }
    assert_eq!(t["api_domain"], sb.url(Z, "/jp/api"));
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 3600);
    let at = t["access_token"].as_str().unwrap().to_owned();
    let rt = t["refresh_token"].as_str().unwrap().to_owned();
    assert!(at.starts_with("1000.") && at.split('.').count() == 3);
    // The token works at its DC's API, not at the other's.
    let (s, _, _) = call(
        &sb,
        reqwest::Method::GET,
        &sb.url(Z, "/jp/api/crm/v8/users?type=CurrentUser"),
        &at,
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (s, body, _) = call(
        &sb,
        reqwest::Method::GET,
        &sb.url(Z, "/com/api/crm/v8/users"),
        &at,
        None,
    )
    .await;
    assert_eq!((s, body["code"].as_str()), (401, Some("INVALID_TOKEN")));

    // A code expires after 2 minutes.
    let resp = sb.client.post(&auth).form(&form).send().await.unwrap();
    let code = query(resp.headers()["location"].to_str().unwrap())["code"].clone();
    sb.control(Z, "clock", json!({"advance_seconds": 121}))
        .await;
    assert_eq!(
        token_at("jp", exchange(&code, good)).await,
        json!({"error": "invalid_code"})
    );

    // The access token expired meanwhile? Not yet (121 s); after an hour it has.
    sb.control(Z, "clock", json!({"advance_seconds": 3600}))
        .await;
    let (s, body, _) = call(
        &sb,
        reqwest::Method::GET,
        &sb.url(Z, "/jp/api/crm/v8/users"),
        &at,
        None,
    )
    .await;
    assert_eq!((s, body["code"].as_str()), (401, Some("INVALID_TOKEN")));

    // Refresh: a new access token and no refresh token; at the other DC it is unknown.
    let refresh = vec![
        ("grant_type", "refresh_token".to_string()),
        ("client_id", d.client_id.clone()),
        ("client_secret", d.client_secret.clone()),
        ("refresh_token", rt.clone()),
    ];
    assert_eq!(
        token_at("com", refresh.clone()).await,
        json!({"error": "invalid_code"})
    );
    let r = token_at("jp", refresh.clone()).await;
    assert!(
        r["access_token"].is_string() && r.get("refresh_token").is_none(),
        "{r}"
    );
    let (s, _, _) = call(
        &sb,
        reqwest::Method::GET,
        &sb.url(Z, "/jp/api/crm/v8/users"),
        r["access_token"].as_str().unwrap(),
        None,
    )
    .await;
    assert_eq!(s, 200);

    // Revoke.
    let resp = sb
        .client
        .post(sb.url(Z, "/jp/accounts/oauth/v2/token/revoke"))
        .query(&[("token", &rt)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"status": "success"})
    );
    assert_eq!(
        token_at("jp", refresh).await,
        json!({"error": "invalid_code"})
    );
    let resp = sb
        .client
        .post(sb.url(Z, "/jp/accounts/oauth/v2/token/revoke"))
        .query(&[("token", "1000.x.y")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // A code works once.
    let resp = sb.client.post(&auth).form(&form).send().await.unwrap();
    let code = query(resp.headers()["location"].to_str().unwrap())["code"].clone();
    assert!(token_at("jp", exchange(&code, good)).await["access_token"].is_string());
    assert_eq!(
        token_at("jp", exchange(&code, good)).await,
        json!({"error": "invalid_code"})
    );

    // access_type=online (Zoho's default): no refresh token.
    sb.control(Z, "settings", json!({"auto_approve": true}))
        .await;
    let resp = sb
        .client
        .get(&auth)
        .query(&base_q[..5])
        .query(&[("account", d.com_org.as_str())])
        .send()
        .await
        .unwrap();
    let q = query(resp.headers()["location"].to_str().unwrap());
    assert_eq!(q["location"], "us", "Zoho names the com data centre us");
    let t = token_at("com", exchange(&q["code"], "")).await;
    assert!(
        t["access_token"].is_string() && t.get("refresh_token").is_none(),
        "{t}"
    );
}

#[tokio::test]
async fn a_tenant_client_lives_in_one_data_centre() {
    let sb = TestSandbox::start().await;
    let d = dir(&sb).await;
    let c = sb
        .client
        .post(sb.url(Z, "/_control/clients"))
        .json(&json!({"data_centre": "jp", "redirect_uri": "http://app/cb"}))
        .send()
        .await
        .unwrap();
    assert_eq!(c.status(), 201);
    let c: Value = c.json().await.unwrap();
    let id = c["client_id"].as_str().unwrap();
    // Unknown at the US accounts server, known at the Japanese one.
    let q = [
        ("client_id", id),
        ("response_type", "code"),
        ("redirect_uri", "http://app/cb"),
        ("scope", "ZohoCRM.modules.ALL"),
    ];
    let r = sb
        .client
        .get(sb.url(Z, "/com/accounts/oauth/v2/auth"))
        .query(&q)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("invalid_client"));
    let r = sb
        .client
        .get(sb.url(Z, "/jp/accounts/oauth/v2/auth"))
        .query(&q)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A redirect URI other than the registered one.
    let r = sb
        .client
        .get(sb.url(Z, "/jp/accounts/oauth/v2/auth"))
        .query(&[
            ("client_id", id),
            ("response_type", "code"),
            ("redirect_uri", "http://evil/cb"),
            ("scope", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("invalid_redirect_uri"));
    let r: Value = sb
        .client
        .post(sb.url(Z, "/com/accounts/oauth/v2/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", id),
            ("client_secret", c["client_secret"].as_str().unwrap()),
            ("refresh_token", "1000.a.b"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r, json!({"error": "invalid_client"}));
    // Approving a US org with the Japanese client is refused.
    sb.control(Z, "settings", json!({"auto_approve": true}))
        .await;
    let r = sb
        .client
        .get(sb.url(Z, "/jp/accounts/oauth/v2/auth"))
        .query(&q)
        .query(&[("account", d.com_org.as_str())])
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .contains("error=access_denied")
    );
    let bad = sb
        .client
        .post(sb.url(Z, "/_control/clients"))
        .json(&json!({"data_centre": "mars"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn records_crud_batches_and_error_bodies() {
    let sb = TestSandbox::start().await;
    let d = dir(&sb).await;
    let t = tokens(&sb, &d, &d.jp_org, ALL).await;
    let at = t["access_token"].as_str().unwrap().to_owned();
    let api = |p: &str| sb.url(Z, &format!("/jp/api/crm/v8{p}"));
    use reqwest::Method as M;

    // Empty module: 204 without a body.
    let (s, _, h) = call(&sb, M::GET, &api("/Leads?fields=Last_Name"), &at, None).await;
    assert_eq!(s, 204);
    assert!(h.contains_key("x-ratelimit-remaining"));

    let (s, body, _) = call(
        &sb,
        M::POST,
        &api("/Accounts"),
        &at,
        Some(json!({"data": [{"Account_Name": "東京テック株式会社", "Phone": "03-1111-2222"}]})),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    let acc = body["data"][0]["details"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(acc.len(), 19);
    assert!(acc.starts_with("5725767"));
    assert!(
        body["data"][0]["details"]["Created_Time"]
            .as_str()
            .unwrap()
            .ends_with("+09:00")
    );
    assert_eq!(body["data"][0]["message"], "record added");

    // A batch with one good and several bad records: 207 and a per-record answer each.
    let (s, body, _) = call(&sb, M::POST, &api("/Contacts"), &at, Some(json!({"data": [
        {"Last_Name": "田中", "First_Name": "健太", "Email": "kenta@tokyo-tech.example.jp", "Account_Name": {"id": acc}},
        {"First_Name": "no last name"},
        {"Last_Name": "x", "Email": "not-an-email"},
        {"Last_Name": "y", "Account_Name": {"id": "5725767000009999999"}},
        {"Last_Name": "z", "Email": "KENTA@tokyo-tech.example.jp"},
        {"Last_Name": "w", "Date_of_Birth": "1990-13-01"},
        "not an object",
    ]}))).await;
    assert_eq!(s, 207, "{body}");
    let codes: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "SUCCESS",
            "MANDATORY_NOT_FOUND",
            "INVALID_DATA",
            "INVALID_DATA",
            "DUPLICATE_DATA",
            "INVALID_DATA",
            "INVALID_DATA"
        ]
    );
    assert_eq!(
        body["data"][1]["details"],
        json!({"api_name": "Last_Name", "json_path": "$.data[1].Last_Name"})
    );
    assert_eq!(body["data"][2]["details"]["expected_data_type"], "email");
    assert_eq!(body["data"][2]["details"]["json_path"], "$.data[2].Email");
    assert_eq!(body["data"][4]["details"]["api_name"], "Email");
    assert!(body["data"][4]["details"]["duplicate_record"]["id"].is_string());
    let contact = body["data"][0]["details"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Read it back: lookups as {name, id}, Full_Name, the org's offset.
    let (s, body, _) = call(
        &sb,
        M::GET,
        &api(&format!("/Contacts/{contact}")),
        &at,
        None,
    )
    .await;
    assert_eq!(s, 200);
    let r = &body["data"][0];
    assert_eq!(r["Full_Name"], "健太 田中");
    assert_eq!(
        r["Account_Name"],
        json!({"name": "東京テック株式会社", "id": acc})
    );
    assert!(r["Modified_Time"].as_str().unwrap().ends_with("+09:00"));

    // Request-level errors: a table of bad requests and Zoho's answers.
    let cases: Vec<(M, String, Option<Value>, u16, &str)> = vec![
        (
            M::GET,
            api("/Contacts"),
            None,
            400,
            "REQUIRED_PARAM_MISSING",
        ),
        (
            M::GET,
            api("/Contacts?fields=Email&per_page=201"),
            None,
            400,
            "INVALID_DATA",
        ),
        (
            M::GET,
            api("/Contacts?fields=Email&page=11"),
            None,
            400,
            "LIMIT_REACHED",
        ),
        (
            M::GET,
            api("/Contacts?fields=Email&sort_by=Email"),
            None,
            400,
            "INVALID_DATA",
        ),
        (
            M::GET,
            api("/Contacts?fields=Email&page_token=zzz"),
            None,
            400,
            "INVALID_DATA",
        ),
        (
            M::GET,
            api("/Nope?fields=Email"),
            None,
            400,
            "INVALID_MODULE",
        ),
        (
            M::GET,
            api("/Contacts/1/2/3/4"),
            None,
            404,
            "INVALID_URL_PATTERN",
        ),
        (
            M::POST,
            api("/Contacts"),
            Some(json!({"nodata": []})),
            400,
            "REQUIRED_PARAM_MISSING",
        ),
        (
            M::POST,
            api("/Contacts"),
            Some(
                json!({"data": (0..101).map(|i| json!({"Last_Name": i.to_string()})).collect::<Vec<_>>()}),
            ),
            400,
            "LIMIT_EXCEEDED",
        ),
        (
            M::PUT,
            api("/Contacts"),
            Some(json!({"data": [{"Last_Name": "no id"}]})),
            400,
            "MANDATORY_NOT_FOUND",
        ),
        (
            M::DELETE,
            api("/Contacts"),
            None,
            400,
            "REQUIRED_PARAM_MISSING",
        ),
        (
            M::GET,
            api("/Contacts/search?criteria=(Nope:equals:1)"),
            None,
            400,
            "INVALID_QUERY",
        ),
        (
            M::GET,
            api("/Contacts/search?criteria=Last_Name:equals:1"),
            None,
            400,
            "INVALID_QUERY",
        ),
        (
            M::GET,
            api("/settings/fields"),
            None,
            400,
            "REQUIRED_PARAM_MISSING",
        ),
    ];
    for (m, url, body, status, code) in cases {
        let (s, b, _) = call(&sb, m.clone(), &url, &at, body).await;
        assert_eq!(s, status, "{m} {url}: {b}");
        let got = b["code"].as_str().or(b["data"][0]["code"].as_str());
        assert_eq!(got, Some(code), "{m} {url}: {b}");
        if s < 500 && b.get("status").is_some() {
            assert_eq!(b["status"], "error");
        }
    }
    // A malformed body.
    let resp = sb
        .client
        .post(api("/Contacts"))
        .header("Authorization", format!("Zoho-oauthtoken {at}"))
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "INVALID_DATA");
    // No token, a bad token.
    let (s, b) = sb.get_json(&api("/Contacts?fields=Email")).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (401, Some("AUTHENTICATION_FAILURE"))
    );
    let (s, b, _) = call(
        &sb,
        M::GET,
        &api("/Contacts?fields=Email"),
        "1000.bad.bad",
        None,
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (401, Some("INVALID_TOKEN")));

    // Update, upsert (by the default Email duplicate check), notes of a record, delete.
    let (s, b, _) = call(
        &sb,
        M::PUT,
        &api(&format!("/Contacts/{contact}")),
        &at,
        Some(json!({"data": [{"Title": "部長"}]})),
    )
    .await;
    assert_eq!(
        (s, b["data"][0]["message"].as_str()),
        (200, Some("record updated"))
    );
    let (s, b, _) = call(&sb, M::POST, &api("/Contacts/upsert"), &at, Some(json!({"data": [
        {"Last_Name": "田中", "Email": "kenta@tokyo-tech.example.jp", "Mobile": "090-1111-2222"},
        {"Last_Name": "新人", "Email": "new@tokyo-tech.example.jp"},
    ]}))).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"][0]["action"], "update");
    assert_eq!(b["data"][0]["duplicate_field"], "Email");
    assert_eq!(b["data"][0]["details"]["id"], contact.as_str());
    assert_eq!(b["data"][1]["action"], "insert");
    let newbie = b["data"][1]["details"]["id"].as_str().unwrap().to_owned();
    let (s, b, _) = call(
        &sb,
        M::POST,
        &api(&format!("/Contacts/{contact}/Notes")),
        &at,
        Some(json!({"data": [{"Note_Title": "訪問", "Note_Content": "初回訪問"}]})),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    let (s, b, _) = call(&sb, M::POST, &api("/Notes"), &at, Some(json!({"data": [{"Note_Content": "via Notes", "Parent_Id": {"module": {"api_name": "Contacts"}, "id": contact}}]}))).await;
    assert_eq!(s, 201, "{b}");
    let (s, b, _) = call(
        &sb,
        M::GET,
        &api(&format!(
            "/Contacts/{contact}/Notes?fields=Note_Content,Parent_Id"
        )),
        &at,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(b["data"].as_array().unwrap().len(), 2);
    assert_eq!(b["data"][0]["Parent_Id"]["module"]["api_name"], "Contacts");
    let (s, b, _) = call(
        &sb,
        M::DELETE,
        &api(&format!("/Contacts?ids={newbie},123")),
        &at,
        None,
    )
    .await;
    assert_eq!(s, 207, "{b}");
    assert_eq!(b["data"][0]["message"], "record deleted");
    let (s, b, _) = call(&sb, M::GET, &api("/Contacts/deleted?type=all"), &at, None).await;
    assert_eq!(s, 200);
    assert_eq!(b["data"][0]["id"], newbie.as_str());
    assert_eq!(b["data"][0]["display_name"], "新人");
    let (s, _, _) = call(&sb, M::GET, &api(&format!("/Contacts/{newbie}")), &at, None).await;
    assert_eq!(s, 204);

    // The custom module: unique Room_Code.
    let (s, _, _) = call(
        &sb,
        M::POST,
        &api("/Meeting_Rooms"),
        &at,
        Some(json!({"data": [{"Name": "会議室A", "Room_Code": "A-1", "Capacity": 8}]})),
    )
    .await;
    assert_eq!(s, 201);
    let (s, b, _) = call(
        &sb,
        M::POST,
        &api("/Meeting_Rooms"),
        &at,
        Some(json!({"data": [{"Name": "会議室B", "Room_Code": "a-1", "Capacity": "eight"}]})),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(b["data"][0]["code"], "INVALID_DATA");
    // An older version path serves the same data; there `fields` is optional.
    let (s, b, _) = call(
        &sb,
        M::GET,
        &sb.url(Z, "/jp/api/crm/v2/Meeting_Rooms"),
        &at,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(b["data"][0]["Room_Code"], "A-1");
}

#[tokio::test]
async fn paging_reaches_past_2000_with_page_token_and_search_finds() {
    let sb = TestSandbox::start().await;
    let d = dir(&sb).await;
    let summary = sb
        .control(
            Z,
            "seed",
            json!({"count": 3000, "seed": 3, "account": d.com_org}),
        )
        .await;
    let total = summary["created"]["Contacts"].as_u64().unwrap() as usize;
    assert!(total > 2000, "{summary}");
    let t = tokens(&sb, &d, &d.com_org, ALL).await;
    let at = t["access_token"].as_str().unwrap().to_owned();
    let api = |p: &str| sb.url(Z, &format!("/com/api/crm/v8{p}"));
    use reqwest::Method as M;
    let mut seen = std::collections::HashSet::new();
    let mut token: Option<String> = None;
    let mut last_id = u64::MAX;
    loop {
        let url = match &token {
            None => api("/Contacts?fields=Last_Name,Email&per_page=200"),
            Some(t) => api(&format!(
                "/Contacts?fields=Last_Name,Email&per_page=200&page_token={t}"
            )),
        };
        let (s, b, _) = call(&sb, M::GET, &url, &at, None).await;
        assert_eq!(s, 200, "{b}");
        for r in b["data"].as_array().unwrap() {
            let id: u64 = r["id"].as_str().unwrap().parse().unwrap();
            assert!(id < last_id, "id descending by default");
            last_id = id;
            assert!(seen.insert(id));
            assert!(r.get("Phone").is_none(), "only the requested fields");
        }
        if !b["info"]["more_records"].as_bool().unwrap() {
            assert!(b["info"]["next_page_token"].is_null());
            break;
        }
        token = Some(b["info"]["next_page_token"].as_str().unwrap().to_owned());
        assert!(
            b["info"]["page_token_expiry"]
                .as_str()
                .unwrap()
                .contains("-0")
        ); // PST/PDT offset
    }
    assert_eq!(seen.len(), total);

    // If-Modified-Since: nothing changed since now → 304; a change shows up.
    let now = sb.control(Z, "clock", json!({"advance_seconds": 10})).await;
    let since = now["now"].as_str().unwrap().to_owned();
    let resp = sb
        .client
        .get(api("/Contacts?fields=Email"))
        .header("Authorization", format!("Zoho-oauthtoken {at}"))
        .header("If-Modified-Since", &since)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);
    sb.control(Z, "clock", json!({"advance_seconds": 10})).await;
    let some = *seen.iter().next().unwrap();
    let (s, _, _) = call(
        &sb,
        M::PUT,
        &api("/Contacts"),
        &at,
        Some(json!({"data": [{"id": some.to_string(), "Department": "Sales"}]})),
    )
    .await;
    assert_eq!(s, 200);
    let resp = sb
        .client
        .get(api("/Contacts?fields=Department&sort_by=Modified_Time"))
        .header("Authorization", format!("Zoho-oauthtoken {at}"))
        .header("If-Modified-Since", &since)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let b: Value = resp.json().await.unwrap();
    assert_eq!(b["data"].as_array().unwrap().len(), 1);
    assert_eq!(b["data"][0]["Department"], "Sales");

    // Search: criteria, email, phone in another notation, word; 204 for no match.
    let (s, b, _) = call(
        &sb,
        M::GET,
        &api(&format!("/Contacts/search?criteria=(id:equals:{some})")),
        &at,
        None,
    )
    .await;
    assert_eq!((s, b["data"].as_array().map(Vec::len)), (200, Some(1)));
    let (_, rec, _) = call(&sb, M::GET, &api(&format!("/Contacts/{some}")), &at, None).await;
    if let Some(email) = rec["data"][0]["Email"].as_str() {
        let (s, b, _) = call(
            &sb,
            M::GET,
            &api(&format!("/Contacts/search?email={}", email.to_uppercase())),
            &at,
            None,
        )
        .await;
        assert_eq!(s, 200);
        assert!(
            b["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["id"].as_str() == Some(some.to_string().as_str()))
        );
    }
    let (s, b, _) = call(&sb, M::GET, &api("/Contacts/search?criteria=((Department:equals:Sales)or(Department:equals:Nobody))and(Last_Name:not_equal:zzz)"), &at, None).await;
    assert_eq!(
        (s, b["data"].as_array().map(Vec::len)),
        (200, Some(1)),
        "{b}"
    );
    let (s, _, _) = call(&sb, M::GET, &api("/Contacts/search?word=zzzqqq"), &at, None).await;
    assert_eq!(s, 204);
    let (s, b, _) = call(
        &sb,
        M::GET,
        &api("/Contacts/search?word=a&per_page=200&page=11"),
        &at,
        None,
    )
    .await;
    assert_eq!(s, 400, "{b}");
    let (s, b, _) = call(&sb, M::GET, &api("/Contacts/actions/count"), &at, None).await;
    assert_eq!((s, b["count"].as_u64()), (200, Some(total as u64)));
}

#[tokio::test]
async fn scopes_limit_what_a_token_reaches() {
    let sb = TestSandbox::start().await;
    let d = dir(&sb).await;
    use reqwest::Method as M;
    let t = tokens(
        &sb,
        &d,
        &d.jp_org,
        "ZohoCRM.modules.leads.READ,ZohoCRM.settings.fields.READ",
    )
    .await;
    let at = t["access_token"].as_str().unwrap().to_owned();
    let api = |p: &str| sb.url(Z, &format!("/jp/api/crm/v8{p}"));
    for (m, path, ok) in [
        (M::GET, "/Leads?fields=Email", true),
        (M::GET, "/settings/fields?module=Leads", true),
        (M::GET, "/Contacts?fields=Email", false),
        (M::POST, "/Leads", false),
        (M::GET, "/settings/modules", false),
        (M::GET, "/users", false),
        (M::GET, "/org", false),
    ] {
        let (s, b, _) = call(
            &sb,
            m.clone(),
            &api(path),
            &at,
            Some(json!({"data": [{"Last_Name": "x", "Company": "y"}]})),
        )
        .await;
        if ok {
            assert!(s == 200 || s == 204, "{m} {path}: {s} {b}");
        } else {
            assert_eq!(
                (s, b["code"].as_str()),
                (401, Some("OAUTH_SCOPE_MISMATCH")),
                "{m} {path}"
            );
            assert_eq!(b["message"], "invalid oauth scope to access this URL");
        }
    }
}

#[tokio::test]
async fn credits_and_concurrency_answer_429() {
    let sb = TestSandbox::start().await;
    let d = dir(&sb).await;
    let t = tokens(&sb, &d, &d.jp_org, ALL).await;
    let at = t["access_token"].as_str().unwrap().to_owned();
    let url = sb.url(Z, "/jp/api/crm/v8/org");
    use reqwest::Method as M;
    let limits = sb.control(Z, "limits", Value::Null).await;
    assert_eq!(limits["effective"]["concurrency_per_org"], 20);
    assert_eq!(
        limits["effective"]["credits_per_day_by_org"][&d.jp_org],
        52_000
    );
    let bad = sb
        .client
        .post(sb.url(Z, "/_control/limits"))
        .json(&json!({"edition": "platinum"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    sb.control(Z, "limits", json!({"credits_per_day": 3})).await;
    for remaining in [2, 1, 0] {
        let (s, _, h) = call(&sb, M::GET, &url, &at, None).await;
        assert_eq!(s, 200);
        assert_eq!(h["x-ratelimit-remaining"], remaining.to_string().as_str());
        assert_eq!(h["x-ratelimit-limit"], "3");
    }
    let (s, b, h) = call(&sb, M::GET, &url, &at, None).await;
    assert_eq!((s, b["code"].as_str()), (429, Some("TOO_MANY_REQUESTS")));
    assert!(h.contains_key("retry-after"));
    // Other orgs have their own credits.
    let t2 = tokens(&sb, &d, &d.com_org, ALL).await;
    let (s, _, _) = call(
        &sb,
        M::GET,
        &sb.url(Z, "/com/api/crm/v8/org"),
        t2["access_token"].as_str().unwrap(),
        None,
    )
    .await;
    assert_eq!(s, 200);
    // A day later the window is fresh.
    sb.control(Z, "clock", json!({"advance_seconds": 86_400}))
        .await;
    let t = tokens(&sb, &d, &d.jp_org, ALL).await;
    let at = t["access_token"].as_str().unwrap().to_owned();
    let (s, _, _) = call(&sb, M::GET, &url, &at, None).await;
    assert_eq!(s, 200);

    // Concurrency: one call holds the only slot while its body is still arriving.
    sb.control(
        Z,
        "limits",
        json!({"credits_per_day": null, "concurrency_per_org": 1}),
    )
    .await;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = sb.origin.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let body = r#"{"data":[{"Last_Name":"slow","Company":"c"}]}"#;
    let head = format!(
        "POST /sandbox/zoho/jp/api/crm/v8/Leads HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Zoho-oauthtoken {at}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        &body[..5]
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let mut held = false;
    for _ in 0..200 {
        let (s, b, _) = call(&sb, M::GET, &url, &at, None).await;
        if s == 429 {
            assert_eq!(b["code"], "TOO_MANY_REQUESTS");
            held = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(held, "a second concurrent call must get 429");
    slow.write_all(&body.as_bytes()[5..]).await.unwrap();
    let mut out = String::new();
    slow.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 201"), "{out}");
    let (s, _, _) = call(&sb, M::GET, &url, &at, None).await;
    assert_eq!(s, 200, "the slot is free again");
}

#[tokio::test]
async fn settings_and_faults_speak_zoho() {
    let sb = TestSandbox::start().await;
    let d = dir(&sb).await;
    let s = sb
        .control(Z, "settings", json!({"access_token_ttl_seconds": 60}))
        .await;
    assert_eq!(s["access_token_ttl_seconds"], 60);
    let bad = sb
        .client
        .post(sb.url(Z, "/_control/settings"))
        .json(&json!({"colour": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let t = tokens(&sb, &d, &d.jp_org, ALL).await;
    assert_eq!(t["expires_in"], 60);
    let at = t["access_token"].as_str().unwrap().to_owned();
    sb.control(Z, "faults", json!({"kind": "revoked_token"}))
        .await;
    let (s, b, _) = call(
        &sb,
        reqwest::Method::GET,
        &sb.url(Z, "/jp/api/crm/v8/org"),
        &at,
        None,
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (401, Some("INVALID_TOKEN")));
    let (s, _, _) = call(
        &sb,
        reqwest::Method::GET,
        &sb.url(Z, "/jp/api/crm/v8/org"),
        &at,
        None,
    )
    .await;
    assert_eq!(s, 401, "the grant stays revoked");
    let r: Value = sb
        .client
        .post(sb.url(Z, "/jp/accounts/oauth/v2/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", &d.client_id),
            ("client_secret", &d.client_secret),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r, json!({"error": "invalid_code"}));
    sb.control(
        Z,
        "faults",
        json!({"kind": "rate_limit", "retry_after_seconds": 9}),
    )
    .await;
    let resp = sb
        .client
        .get(sb.url(Z, "/jp/api/crm/v8/org"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "9");
    assert_eq!(
        resp.json::<Value>().await.unwrap()["code"],
        "TOO_MANY_REQUESTS"
    );
}

/// A user deactivated through the Users API (`PUT /users/{id}` with `status` `inactive`, as
/// an admin does) moves to `type=DeactiveUsers` and can no longer own records: an `Owner`
/// naming them is refused with the same `INVALID_DATA` as an id the org does not have.
#[tokio::test]
async fn a_deactivated_user_cannot_own_records() {
    use reqwest::Method as M;
    let sb = TestSandbox::start().await;
    let d = dir(&sb).await;
    let t = tokens(&sb, &d, &d.jp_org, ALL).await;
    let at = t["access_token"].as_str().unwrap().to_owned();
    let api = |path: &str| sb.url(Z, &format!("/jp/api/crm/v8{path}"));
    let (_, users, _) = call(&sb, M::GET, &api("/users?type=AllUsers"), &at, None).await;
    let users = users["users"].as_array().unwrap().clone();
    assert!(users.iter().all(|u| u["status"] == "active"));
    let second = users[1]["id"].as_str().unwrap().to_owned();
    let lead = |owner: &str| json!({"data": [{"Last_Name": "Owned", "Company": "Owner KK", "Owner": {"id": owner}}]});
    let (s, b, _) = call(&sb, M::POST, &api("/Leads"), &at, Some(lead(&second))).await;
    assert_eq!(s, 201, "{b}");

    let (s, b, _) = call(
        &sb,
        M::PUT,
        &api(&format!("/users/{second}")),
        &at,
        Some(json!({"users": [{"status": "inactive"}]})),
    )
    .await;
    assert_eq!(
        (s, &b),
        (
            200,
            &json!({"users": [{"code": "SUCCESS", "details": {"id": second},
                                "message": "User updated", "status": "success"}]})
        )
    );
    let (_, b, _) = call(&sb, M::GET, &api(&format!("/users/{second}")), &at, None).await;
    assert_eq!(b["users"][0]["status"], "inactive");
    let (_, b, _) = call(&sb, M::GET, &api("/users?type=DeactiveUsers"), &at, None).await;
    assert_eq!(b["users"][0]["id"], second.as_str());
    let (_, b, _) = call(&sb, M::GET, &api("/users?type=ActiveUsers"), &at, None).await;
    assert_eq!(b["users"].as_array().unwrap().len(), users.len() - 1);

    // Refused exactly as an owner the org does not have.
    let (s, inactive, _) = call(&sb, M::POST, &api("/Leads"), &at, Some(lead(&second))).await;
    assert_eq!(s, 400, "{inactive}");
    let (_, unknown, _) = call(
        &sb,
        M::POST,
        &api("/Leads"),
        &at,
        Some(lead("5725767000000999999")),
    )
    .await;
    assert_eq!(inactive, unknown);
    assert_eq!(
        inactive["data"][0],
        json!({"code": "INVALID_DATA", "message": "invalid data", "status": "error",
               "details": {"api_name": "Owner", "json_path": "$.data[0].Owner"}})
    );
    // The admin still owns records; the primary contact cannot be deactivated.
    let admin = users[0]["id"].as_str().unwrap().to_owned();
    let (s, b, _) = call(&sb, M::POST, &api("/Leads"), &at, Some(lead(&admin))).await;
    assert_eq!(s, 201, "{b}");
    let (s, b, _) = call(
        &sb,
        M::PUT,
        &api("/users"),
        &at,
        Some(json!({"users": [{"id": admin, "status": "inactive"}]})),
    )
    .await;
    assert_eq!(
        (s, &b["users"][0]["code"]),
        (400, &json!("INVALID_DATA")),
        "{b}"
    );
    for bad in [json!({"status": "disabled"}), json!({"first_name": "X"})] {
        let (s, b, _) = call(
            &sb,
            M::PUT,
            &api(&format!("/users/{second}")),
            &at,
            Some(json!({"users": [bad]})),
        )
        .await;
        assert_eq!(
            (s, &b["users"][0]["code"]),
            (400, &json!("INVALID_DATA")),
            "{b}"
        );
    }
    // Reactivated, the user owns records again.
    let (s, _, _) = call(
        &sb,
        M::PUT,
        &api(&format!("/users/{second}")),
        &at,
        Some(json!({"users": [{"status": "active"}]})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, b, _) = call(&sb, M::POST, &api("/Leads"), &at, Some(lead(&second))).await;
    assert_eq!(s, 201, "{b}");
}

mod activities;
mod spec;
