//! OAuth: consent, code exchange, PKCE, code reuse and expiry, refresh (with and without
//! rotation), revoke, session expiry, userinfo, identity URL and introspection.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

use super::{Sf, V, assert_error, form};

/// A query parameter of a redirect, decoded as a client would (by the URL parser, not by the
/// emulator's own code).
fn param(url: &str, name: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

impl Sf {
    fn authorize_url(&self, extra: &[(&str, &str)]) -> String {
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", self.dir["client_id"].as_str().unwrap()),
            ("redirect_uri", "http://localhost:8080/callback"),
            ("state", "xyz 1"),
        ];
        params.extend_from_slice(extra);
        format!(
            "{}?{}",
            self.dir["urls"]["authorize"].as_str().unwrap(),
            form(&params)
        )
    }

    /// Runs the consent form (approve) and answers the redirect's code.
    async fn code(&self, extra: &[(&str, &str)], account: Option<&str>) -> String {
        let mut fields: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", self.dir["client_id"].as_str().unwrap()),
            ("redirect_uri", "http://localhost:8080/callback"),
            ("state", "xyz 1"),
            ("decision", "approve"),
        ];
        let default = self.dir["accounts"][0]["id"].as_str().unwrap();
        fields.push(("account", account.unwrap_or(default)));
        fields.extend_from_slice(extra);
        let resp = self
            .sb
            .client
            .post(self.dir["urls"]["authorize"].as_str().unwrap())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&fields))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 303);
        let loc = resp.headers()["location"].to_str().unwrap().to_owned();
        assert!(loc.starts_with("http://localhost:8080/callback?"), "{loc}");
        assert_eq!(param(&loc, "state").as_deref(), Some("xyz 1"));
        param(&loc, "code").expect("code")
    }

    async fn token_call(&self, fields: &[(&str, &str)]) -> (u16, Value) {
        let resp = self
            .sb
            .client
            .post(self.dir["urls"]["token"].as_str().unwrap())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(fields))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    async fn exchange(&self, code: &str, extra: &[(&str, &str)]) -> (u16, Value) {
        let mut f = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", self.dir["client_id"].as_str().unwrap()),
            ("client_secret", self.dir["client_secret"].as_str().unwrap()),
            ("redirect_uri", "http://localhost:8080/callback"),
        ];
        f.extend_from_slice(extra);
        self.token_call(&f).await
    }

    async fn refresh(&self, rt: &str) -> (u16, Value) {
        self.token_call(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("client_id", self.dir["client_id"].as_str().unwrap()),
            ("client_secret", self.dir["client_secret"].as_str().unwrap()),
        ])
        .await
    }

    async fn advance(&self, secs: i64) {
        self.sb
            .control("salesforce", "clock", json!({"advance_seconds": secs}))
            .await;
    }
}

#[tokio::test]
async fn consent_page_code_exchange_and_the_token_response_shape() {
    let sf = Sf::start().await;
    let page = sf
        .sb
        .client
        .get(sf.authorize_url(&[]))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for a in sf.dir["accounts"].as_array().unwrap() {
        assert!(html.contains(a["id"].as_str().unwrap()), "{html}");
        assert!(html.contains(a["username"].as_str().unwrap()));
    }
    let code = sf.code(&[], None).await;
    assert!(code.starts_with("aPrx") && code.ends_with("=="), "{code}");
    let (status, tok) = sf.exchange(&code, &[]).await;
    assert_eq!(status, 200, "{tok}");
    let org = sf.dir["accounts"][0]["id"].as_str().unwrap();
    let at = tok["access_token"].as_str().unwrap();
    assert!(at.starts_with(&format!("{}!AQ", &org[..15])), "{at}");
    assert!(
        tok["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("5Aep861")
    );
    assert_eq!(tok["token_type"], "Bearer");
    assert_eq!(tok["instance_url"], sf.dir["accounts"][0]["instance_url"]);
    assert_eq!(tok["scope"], "api id refresh_token");
    assert!(
        tok.get("expires_in").is_none(),
        "Salesforce does not announce the lifetime"
    );
    let id = tok["id"].as_str().unwrap();
    assert!(id.contains(&format!("/id/{org}/005")), "{id}");
    let issued_at = tok["issued_at"].as_str().unwrap();
    assert!(issued_at.len() == 13 && issued_at.parse::<i64>().is_ok());
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(sf.dir["client_secret"].as_str().unwrap().as_bytes())
            .unwrap();
    mac.update(format!("{id}{issued_at}").as_bytes());
    let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(tok["signature"], want);
    // The token works on its org's instance.
    let r = sf.call_as(at, "GET", "limits", None, &[]).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn deny_redirects_with_access_denied_and_bad_requests_fail_early() {
    let sf = Sf::start().await;
    let resp = sf
        .sb
        .client
        .post(sf.dir["urls"]["authorize"].as_str().unwrap())
        .body(form(&[
            ("client_id", sf.dir["client_id"].as_str().unwrap()),
            ("redirect_uri", "http://localhost:8080/callback"),
            ("state", "s"),
            ("decision", "deny"),
        ]))
        .send()
        .await
        .unwrap();
    let loc = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(param(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&loc, "state").as_deref(), Some("s"));
    let url = sf.authorize_url(&[]).replace("3MVG9", "3MVGx");
    let resp = sf.sb.client.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("invalid_client_id"));
    let resp = sf
        .sb
        .client
        .get(sf.authorize_url(&[("scope", "api nonsense")]))
        .send()
        .await
        .unwrap();
    let loc = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(param(&loc, "error").as_deref(), Some("invalid_scope"));
}

#[tokio::test]
async fn token_endpoint_errors_use_salesforce_pairs() {
    let sf = Sf::start().await;
    let cid = sf.dir["client_id"].as_str().unwrap();
    let secret = sf.dir["client_secret"].as_str().unwrap();
    let code = sf.code(&[], None).await;
    for (fields, error, description) in [
        (
            vec![("grant_type", "password")],
            "unsupported_grant_type",
            "grant type not supported",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", "nope"),
                ("code", &code),
            ],
            "invalid_client_id",
            "client identifier invalid",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", cid),
                ("client_secret", "wrong"),
                ("code", &code),
            ],
            "invalid_client",
            "invalid client credentials",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", cid),
                ("client_secret", secret),
                ("code", "aPrxnope=="),
            ],
            "invalid_grant",
            "invalid authorization code",
        ),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", cid),
                ("client_secret", secret),
                ("code", &code),
                ("redirect_uri", "http://evil/cb"),
            ],
            "redirect_uri_mismatch",
            "redirect_uri must match configuration",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("client_id", cid),
                ("client_secret", secret),
                ("refresh_token", "5Aep861nope"),
            ],
            "invalid_grant",
            "expired access/refresh token",
        ),
    ] {
        let (status, body) = sf.token_call(&fields).await;
        assert_eq!(status, 400, "{fields:?}");
        assert_eq!(
            body,
            json!({"error": error, "error_description": description}),
            "{fields:?}"
        );
    }
}

#[tokio::test]
async fn pkce_code_reuse_and_code_expiry() {
    let sf = Sf::start().await;
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let code = sf.code(&[("code_challenge", challenge)], None).await;
    let (status, body) = sf
        .exchange(&code, &[("code_verifier", "wrong-verifier")])
        .await;
    assert_eq!(
        (status, body["error_description"].as_str()),
        (400, Some("invalid code verifier"))
    );
    let code = sf.code(&[("code_challenge", challenge)], None).await;
    // A public client: the verifier instead of the secret.
    let (status, tok) = sf
        .token_call(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", sf.dir["client_id"].as_str().unwrap()),
            ("redirect_uri", "http://localhost:8080/callback"),
            ("code_verifier", verifier),
        ])
        .await;
    assert_eq!(status, 200, "{tok}");
    // Reuse: refused, and the tokens of the first exchange are revoked.
    let (status, body) = sf.exchange(&code, &[("code_verifier", verifier)]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let r = sf
        .call_as(
            tok["access_token"].as_str().unwrap(),
            "GET",
            "limits",
            None,
            &[],
        )
        .await;
    assert_error(&r, 401, "INVALID_SESSION_ID");
    // Expiry after 15 minutes.
    let code = sf.code(&[], None).await;
    sf.advance(901).await;
    let (status, body) = sf.exchange(&code, &[]).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({"error": "invalid_grant", "error_description": "expired authorization code"})
    );
}

#[tokio::test]
async fn sessions_expire_after_two_hours_and_refresh_and_rotation_work() {
    let sf = Sf::start().await;
    let (_, tok) = sf.exchange(&sf.code(&[], None).await, &[]).await;
    let at = tok["access_token"].as_str().unwrap().to_owned();
    let rt = tok["refresh_token"].as_str().unwrap().to_owned();
    sf.advance(7_199).await;
    assert_eq!(
        sf.call_as(&at, "GET", "limits", None, &[]).await.status,
        200
    );
    sf.advance(2).await;
    let r = sf.call_as(&at, "GET", "limits", None, &[]).await;
    assert_error(&r, 401, "INVALID_SESSION_ID");
    assert!(r.body[0].get("fields").is_none());
    let (status, fresh) = sf.refresh(&rt).await;
    assert_eq!(status, 200, "{fresh}");
    assert!(
        fresh.get("refresh_token").is_none(),
        "no rotation by default"
    );
    let at2 = fresh["access_token"].as_str().unwrap();
    assert_eq!(
        sf.call_as(at2, "GET", "limits", None, &[]).await.status,
        200
    );
    // A shorter session timeout.
    sf.settings(json!({"session_ttl_seconds": 60, "rotate_refresh_tokens": true}))
        .await;
    let (_, rotated) = sf.refresh(&rt).await;
    let new_rt = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(new_rt, rt);
    let (status, _) = sf.refresh(&rt).await;
    assert_eq!(status, 400, "the rotated-away token is dead");
    let at3 = rotated["access_token"].as_str().unwrap();
    sf.advance(61).await;
    assert_eq!(
        sf.call_as(at3, "GET", "limits", None, &[]).await.status,
        401
    );
    assert_eq!(sf.refresh(new_rt).await.0, 200);
}

#[tokio::test]
async fn revoke_kills_the_grant() {
    let sf = Sf::start().await;
    let (_, tok) = sf.exchange(&sf.code(&[], None).await, &[]).await;
    let at = tok["access_token"].as_str().unwrap();
    let revoke = sf.dir["urls"]["revoke"].as_str().unwrap();
    let resp = sf
        .sb
        .client
        .post(revoke)
        .body(form(&[("token", at)]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(sf.call_as(at, "GET", "limits", None, &[]).await.status, 401);
    assert_eq!(
        sf.refresh(tok["refresh_token"].as_str().unwrap()).await.0,
        400
    );
    let resp = sf
        .sb
        .client
        .post(revoke)
        .body(form(&[("token", "nope")]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_token"
    );
}

#[tokio::test]
async fn tokens_are_bound_to_their_org_and_auto_approve_picks_the_account() {
    let sf = Sf::start().await;
    sf.settings(json!({"auto_approve": true})).await;
    let other = sf.dir["accounts"][1].clone();
    let url = sf.authorize_url(&[("account", other["id"].as_str().unwrap())]);
    let resp = sf.sb.client.get(url).send().await.unwrap();
    let loc = resp.headers()["location"].to_str().unwrap().to_owned();
    let (_, tok) = sf.exchange(&param(&loc, "code").unwrap(), &[]).await;
    assert_eq!(tok["instance_url"], other["instance_url"]);
    let theirs = tok["access_token"].as_str().unwrap();
    // Org B's token on org A's instance, and org A's on org B's.
    let r = sf.call_as(theirs, "GET", "limits", None, &[]).await;
    assert_error(&r, 401, "INVALID_SESSION_ID");
    let on_b = format!(
        "{}/services/data/{V}/limits",
        other["instance_url"].as_str().unwrap()
    );
    assert_eq!(
        sf.call_as(&sf.token, "GET", &on_b, None, &[]).await.status,
        401
    );
    assert_eq!(
        sf.call_as(theirs, "GET", &on_b, None, &[]).await.status,
        200
    );
    // No token at all.
    let resp = sf.sb.client.get(sf.url("limits")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn userinfo_identity_and_introspection() {
    let sf = Sf::start().await;
    let info = sf
        .sb
        .client
        .get(sf.dir["urls"]["userinfo"].as_str().unwrap())
        .bearer_auth(&sf.token)
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200);
    let info: Value = info.json().await.unwrap();
    assert_eq!(info["organization_id"], sf.dir["accounts"][0]["id"]);
    assert_eq!(
        info["preferred_username"],
        sf.dir["accounts"][0]["username"]
    );
    let tokens = sf.sb.control("salesforce", "tokens", Value::Null).await;
    let id = sf
        .sb
        .client
        .get(tokens["id"].as_str().unwrap())
        .bearer_auth(&sf.token)
        .send()
        .await
        .unwrap();
    assert_eq!(id.status(), 200);
    let id: Value = id.json().await.unwrap();
    assert_eq!(id["user_id"], info["user_id"]);
    assert!(
        id["urls"]["rest"]
            .as_str()
            .unwrap()
            .ends_with("/services/data/v{version}/")
    );
    let bad = sf
        .sb
        .client
        .get(sf.dir["urls"]["userinfo"].as_str().unwrap())
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 403);
    assert_eq!(bad.text().await.unwrap(), "Bad_OAuth_Token");
    let introspect = |token: String| {
        let sf = &sf;
        async move {
            sf.sb
                .client
                .post(sf.dir["urls"]["introspect"].as_str().unwrap())
                .body(form(&[
                    ("token", &token),
                    ("token_type_hint", "access_token"),
                    ("client_id", sf.dir["client_id"].as_str().unwrap()),
                    ("client_secret", sf.dir["client_secret"].as_str().unwrap()),
                ]))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let live = introspect(sf.token.clone()).await;
    assert_eq!(live["active"], true);
    assert_eq!(live["token_type"], "access_token");
    assert!(live["exp"].as_i64().unwrap() - live["iat"].as_i64().unwrap() == 7200);
    assert_eq!(introspect("nope".into()).await, json!({"active": false}));
}
