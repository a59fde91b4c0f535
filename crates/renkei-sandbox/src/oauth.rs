//! The OAuth 2.0 machinery the three vendors share: authorization codes with PKCE, grants with
//! access and refresh tokens, expiry by the emulator's clock, revocation, and the consent page.
//!
//! What differs per vendor (token formats, lifetimes, whether a refresh rotates the refresh
//! token, and every response and error body) stays in the vendor's module: this store only
//! answers "is this code/token good, and for which account", with an error the vendor then
//! words in its own way.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use sha2::Digest as _;

use crate::env::lock;
use crate::http::escape_html;

/// A registered OAuth client (an app).
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub client_secret: String,
    /// Redirect URIs the client registered. Empty accepts any, which is what the sandbox's
    /// default clients do so that any local renkei can use them.
    pub redirect_uris: Vec<String>,
    pub name: String,
}

impl Client {
    pub fn accepts_redirect(&self, uri: &str) -> bool {
        self.redirect_uris.is_empty() || self.redirect_uris.iter().any(|u| u == uri)
    }
}

/// How token strings look; each vendor supplies its own shapes.
#[derive(Clone, Copy)]
pub struct Formats {
    pub code: fn(&mut fastrand::Rng, account: &str) -> String,
    pub access: fn(&mut fastrand::Rng, account: &str) -> String,
    pub refresh: fn(&mut fastrand::Rng, account: &str) -> String,
}

/// Lifetimes and rules, changeable through `_control/settings`.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// `None`: access tokens do not expire by time (they still die when revoked).
    pub access_secs: Option<i64>,
    /// How long an authorization code can be redeemed.
    pub code_secs: i64,
    /// Whether a refresh answers a new refresh token and retires the old one.
    pub rotate_refresh: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PkceMethod {
    Plain,
    S256,
}

#[derive(Debug, Clone)]
struct Code {
    client_id: String,
    redirect_uri: String,
    account: String,
    scopes: Vec<String>,
    challenge: Option<(String, PkceMethod)>,
    issued_ms: i64,
    /// Set once redeemed: the grant it produced, revoked if the code is presented again.
    redeemed: Option<u64>,
}

/// An authorization: one consent (or one minted pair) and every token issued from it.
#[derive(Debug, Clone)]
pub struct Grant {
    pub id: u64,
    pub client_id: String,
    pub account: String,
    pub scopes: Vec<String>,
    pub refresh_token: String,
    pub revoked: bool,
    pub created_ms: i64,
}

/// One access token and when it dies.
#[derive(Debug, Clone)]
pub struct Access {
    pub token: String,
    pub grant: u64,
    pub issued_ms: i64,
    pub expires_ms: Option<i64>,
}

/// What a code exchange, a refresh or a mint produced.
#[derive(Debug, Clone)]
pub struct Issued {
    pub grant: Grant,
    pub access: Access,
    /// The refresh token to answer: the grant's, or `None` when a refresh does not return one
    /// (Zoho never does; HubSpot and Salesforce answer the same or a rotated one).
    pub refresh_token: Option<String>,
}

/// Why a code exchange failed. The vendor maps each to its own error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeError {
    Unknown,
    /// Presented a second time: every token issued from its first use is revoked too
    /// (RFC 6749 section 4.1.2).
    Reused,
    Expired,
    ClientMismatch,
    RedirectMismatch,
    /// The authorization carried a challenge and the exchange no verifier.
    VerifierMissing,
    VerifierMismatch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshError {
    Unknown,
    Revoked,
    ClientMismatch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BearerError {
    Unknown,
    Expired,
    Revoked,
}

/// Codes, grants and tokens of one emulator.
pub struct TokenStore {
    formats: Formats,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_grant: u64,
    codes: HashMap<String, Code>,
    grants: HashMap<u64, Grant>,
    access: HashMap<String, Access>,
    /// Live refresh tokens by value. A rotated-away token is removed.
    refresh: HashMap<String, u64>,
    rng: Option<fastrand::Rng>,
}

impl Inner {
    fn rng(&mut self) -> &mut fastrand::Rng {
        self.rng.get_or_insert_with(fastrand::Rng::new)
    }
}

/// Verifies a PKCE verifier against the challenge (RFC 7636 section 4.6).
pub fn pkce_matches(verifier: &str, challenge: &str, method: &PkceMethod) -> bool {
    match method {
        PkceMethod::Plain => verifier == challenge,
        PkceMethod::S256 => {
            let digest = sha2::Sha256::digest(verifier.as_bytes());
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest) == challenge
        }
    }
}

/// Parses `code_challenge_method` (default `plain`, as RFC 7636 says).
pub fn parse_pkce_method(m: Option<&str>) -> Option<PkceMethod> {
    match m {
        None | Some("plain") => Some(PkceMethod::Plain),
        Some("S256") => Some(PkceMethod::S256),
        Some(_) => None,
    }
}

impl TokenStore {
    pub fn new(formats: Formats) -> Self {
        TokenStore {
            formats,
            inner: Mutex::new(Inner {
                next_grant: 1,
                ..Inner::default()
            }),
        }
    }

    pub fn clear(&self) {
        let mut inner = lock(&self.inner);
        let rng = inner.rng.take();
        *inner = Inner {
            next_grant: 1,
            rng,
            ..Inner::default()
        };
    }

    /// Records a consent and returns the code to redirect with.
    pub fn issue_code(
        &self,
        client_id: &str,
        redirect_uri: &str,
        account: &str,
        scopes: Vec<String>,
        challenge: Option<(String, PkceMethod)>,
        now_ms: i64,
    ) -> String {
        let mut inner = lock(&self.inner);
        let code = (self.formats.code)(inner.rng(), account);
        inner.codes.insert(
            code.clone(),
            Code {
                client_id: client_id.to_owned(),
                redirect_uri: redirect_uri.to_owned(),
                account: account.to_owned(),
                scopes,
                challenge,
                issued_ms: now_ms,
                redeemed: None,
            },
        );
        code
    }

    /// Exchanges a code. The client's secret is the vendor's to check before calling this.
    pub fn redeem_code(
        &self,
        code: &str,
        client_id: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
        lifetimes: &Lifetimes,
        now_ms: i64,
    ) -> Result<Issued, CodeError> {
        let mut inner = lock(&self.inner);
        let entry = inner.codes.get(code).cloned().ok_or(CodeError::Unknown)?;
        if let Some(grant) = entry.redeemed {
            revoke_grant(&mut inner, grant);
            return Err(CodeError::Reused);
        }
        if now_ms - entry.issued_ms > lifetimes.code_secs * 1000 {
            return Err(CodeError::Expired);
        }
        if entry.client_id != client_id {
            return Err(CodeError::ClientMismatch);
        }
        if redirect_uri.is_some_and(|r| r != entry.redirect_uri) {
            return Err(CodeError::RedirectMismatch);
        }
        if let Some((challenge, method)) = &entry.challenge {
            let verifier = verifier.ok_or(CodeError::VerifierMissing)?;
            if !pkce_matches(verifier, challenge, method) {
                return Err(CodeError::VerifierMismatch);
            }
        }
        let issued = new_grant(
            &mut inner,
            &self.formats,
            client_id,
            &entry.account,
            entry.scopes,
            lifetimes,
            now_ms,
        );
        if let Some(c) = inner.codes.get_mut(code) {
            c.redeemed = Some(issued.grant.id);
        }
        Ok(issued)
    }

    /// A grant without the browser flow (`_control/tokens`, private-app style tokens).
    pub fn mint(
        &self,
        client_id: &str,
        account: &str,
        scopes: Vec<String>,
        lifetimes: &Lifetimes,
        now_ms: i64,
    ) -> Issued {
        let mut inner = lock(&self.inner);
        new_grant(
            &mut inner,
            &self.formats,
            client_id,
            account,
            scopes,
            lifetimes,
            now_ms,
        )
    }

    /// A new access token from a refresh token. With `rotate_refresh` the answer carries a new
    /// refresh token and the old one stops working; otherwise it carries the same one (the
    /// vendor decides whether to show it).
    pub fn refresh(
        &self,
        refresh_token: &str,
        client_id: &str,
        lifetimes: &Lifetimes,
        now_ms: i64,
    ) -> Result<Issued, RefreshError> {
        let mut inner = lock(&self.inner);
        let grant_id = *inner
            .refresh
            .get(refresh_token)
            .ok_or(RefreshError::Unknown)?;
        let grant = inner
            .grants
            .get(&grant_id)
            .cloned()
            .ok_or(RefreshError::Unknown)?;
        if grant.revoked {
            return Err(RefreshError::Revoked);
        }
        if grant.client_id != client_id {
            return Err(RefreshError::ClientMismatch);
        }
        let account = grant.account.clone();
        if lifetimes.rotate_refresh {
            let fresh = (self.formats.refresh)(inner.rng(), &account);
            inner.refresh.remove(refresh_token);
            inner.refresh.insert(fresh.clone(), grant_id);
            if let Some(g) = inner.grants.get_mut(&grant_id) {
                g.refresh_token = fresh;
            }
        }
        let access = new_access(
            &mut inner,
            &self.formats,
            grant_id,
            &account,
            lifetimes,
            now_ms,
        );
        let grant = inner.grants[&grant_id].clone();
        Ok(Issued {
            refresh_token: Some(grant.refresh_token.clone()),
            grant,
            access,
        })
    }

    /// The grant behind a bearer token, if the token is alive.
    pub fn authenticate(&self, bearer: &str, now_ms: i64) -> Result<(Grant, Access), BearerError> {
        let inner = lock(&self.inner);
        let access = inner.access.get(bearer).ok_or(BearerError::Unknown)?;
        let grant = inner
            .grants
            .get(&access.grant)
            .ok_or(BearerError::Unknown)?;
        if grant.revoked {
            return Err(BearerError::Revoked);
        }
        if access.expires_ms.is_some_and(|e| now_ms >= e) {
            return Err(BearerError::Expired);
        }
        Ok((grant.clone(), access.clone()))
    }

    /// The grant and access record behind a token, alive or not (token-info endpoints answer
    /// for expired tokens too, with their own wording).
    pub fn lookup_access(&self, token: &str) -> Option<(Grant, Access)> {
        let inner = lock(&self.inner);
        let access = inner.access.get(token)?;
        let grant = inner.grants.get(&access.grant)?;
        Some((grant.clone(), access.clone()))
    }

    /// The grant behind a refresh token.
    pub fn lookup_refresh(&self, token: &str) -> Option<Grant> {
        let inner = lock(&self.inner);
        let id = inner.refresh.get(token)?;
        inner.grants.get(id).cloned()
    }

    /// Revokes the whole grant behind an access or a refresh token. Answers whether the token
    /// was known.
    pub fn revoke(&self, token: &str) -> bool {
        let mut inner = lock(&self.inner);
        let grant = inner
            .access
            .get(token)
            .map(|a| a.grant)
            .or_else(|| inner.refresh.get(token).copied());
        match grant {
            Some(g) => {
                revoke_grant(&mut inner, g);
                true
            }
            None => false,
        }
    }

    /// Makes every live access token of the grant behind `token` expire now (the
    /// `expired_token` fault, and vendors' "log out" of a session).
    pub fn expire_now(&self, token: &str, now_ms: i64) {
        let mut inner = lock(&self.inner);
        if let Some(g) = inner.access.get(token).map(|a| a.grant) {
            for a in inner.access.values_mut().filter(|a| a.grant == g) {
                a.expires_ms = Some(now_ms);
            }
        }
    }

    /// Revokes every grant of `account` (the account was deleted or the app uninstalled).
    pub fn revoke_account(&self, account: &str) {
        let mut inner = lock(&self.inner);
        let ids: Vec<u64> = inner
            .grants
            .values()
            .filter(|g| g.account == account)
            .map(|g| g.id)
            .collect();
        for id in ids {
            revoke_grant(&mut inner, id);
        }
    }
}

fn revoke_grant(inner: &mut Inner, grant: u64) {
    if let Some(g) = inner.grants.get_mut(&grant) {
        g.revoked = true;
    }
    inner.refresh.retain(|_, g| *g != grant);
}

fn new_access(
    inner: &mut Inner,
    formats: &Formats,
    grant: u64,
    account: &str,
    lifetimes: &Lifetimes,
    now_ms: i64,
) -> Access {
    let token = (formats.access)(inner.rng(), account);
    let access = Access {
        token: token.clone(),
        grant,
        issued_ms: now_ms,
        expires_ms: lifetimes.access_secs.map(|s| now_ms + s * 1000),
    };
    inner.access.insert(token, access.clone());
    access
}

fn new_grant(
    inner: &mut Inner,
    formats: &Formats,
    client_id: &str,
    account: &str,
    scopes: Vec<String>,
    lifetimes: &Lifetimes,
    now_ms: i64,
) -> Issued {
    let id = inner.next_grant;
    inner.next_grant += 1;
    let refresh_token = (formats.refresh)(inner.rng(), account);
    let grant = Grant {
        id,
        client_id: client_id.to_owned(),
        account: account.to_owned(),
        scopes,
        refresh_token: refresh_token.clone(),
        revoked: false,
        created_ms: now_ms,
    };
    inner.grants.insert(id, grant.clone());
    inner.refresh.insert(refresh_token.clone(), id);
    let access = new_access(inner, formats, id, account, lifetimes, now_ms);
    Issued {
        grant,
        access,
        refresh_token: Some(refresh_token),
    }
}

/// Random characters from `alphabet`, for vendor token formats.
pub fn random_chars(rng: &mut fastrand::Rng, alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[rng.usize(..alphabet.len())] as char)
        .collect()
}

pub const HEX: &[u8] = b"0123456789abcdef";
pub const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// What the consent page shows and posts back.
pub struct ConsentPage<'a> {
    /// "HubSpot", "Salesforce", "Zoho CRM".
    pub vendor: &'a str,
    pub app_name: &'a str,
    /// `(id, label)` of each account the user can pick, as the vendor's account chooser lists
    /// them. The first is preselected.
    pub accounts: &'a [(String, String)],
    pub scopes: &'a [String],
    /// Where the form posts (the vendor's authorize URL).
    pub action: &'a str,
    /// The authorization request's parameters, carried through the form unchanged, except
    /// `account` and `decision`: those are the form's own fields (a request that carried them,
    /// such as a re-posted form, must not vote twice).
    pub hidden: &'a [(String, String)],
}

/// The consent page: pick an account, then approve or deny. The form posts `account`,
/// `decision` (`approve` or `deny`) and the hidden parameters to `action`.
pub fn consent_page(p: &ConsentPage<'_>) -> axum::response::Html<String> {
    let mut accounts = String::new();
    for (i, (id, label)) in p.accounts.iter().enumerate() {
        accounts.push_str(&format!(
            "<label class=\"acct\"><input type=\"radio\" name=\"account\" value=\"{}\"{}> {} <small>({})</small></label>\n",
            escape_html(id),
            if i == 0 { " checked" } else { "" },
            escape_html(label),
            escape_html(id),
        ));
    }
    let scopes: String = p
        .scopes
        .iter()
        .map(|s| format!("<li><code>{}</code></li>", escape_html(s)))
        .collect();
    let hidden: String = p
        .hidden
        .iter()
        .filter(|(k, _)| k != "account" && k != "decision")
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
                escape_html(k),
                escape_html(v)
            )
        })
        .collect();
    axum::response::Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{vendor} (sandbox): authorize {app}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;color:#222}}
.acct{{display:block;padding:.4rem;border:1px solid #ccc;margin:.3rem 0;border-radius:4px}}
button{{padding:.5rem 1.2rem;margin-right:.5rem}} .note{{color:#777;font-size:.85rem}}</style></head>
<body><h1>{vendor} <small>sandbox</small></h1>
<p><strong>{app}</strong> asks for access to your account.</p>
<form method="post" action="{action}">
<h2>Choose an account</h2>
{accounts}<h2>Requested scopes</h2><ul>{scopes}</ul>
{hidden}<button type="submit" name="decision" value="approve">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
<p class="note">This is renkei's emulator of {vendor}; no real account is involved.</p>
</body></html>"#,
        vendor = escape_html(p.vendor),
        app = escape_html(p.app_name),
        action = escape_html(p.action),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn formats() -> Formats {
        Formats {
            code: |r, _| random_chars(r, HEX, 16),
            access: |r, _| format!("at-{}", random_chars(r, HEX, 16)),
            refresh: |r, _| format!("rt-{}", random_chars(r, HEX, 16)),
        }
    }

    const LIFE: Lifetimes = Lifetimes {
        access_secs: Some(1800),
        code_secs: 600,
        rotate_refresh: false,
    };

    #[test]
    fn the_consent_form_carries_the_request_but_not_its_own_fields() {
        let hidden = [
            ("state".to_owned(), "s\"1<".to_owned()),
            ("account".to_owned(), "other".to_owned()),
            ("decision".to_owned(), "approve".to_owned()),
        ];
        let accounts = [("123".to_owned(), "Portal <1>".to_owned())];
        let page = consent_page(&ConsentPage {
            vendor: "V",
            app_name: "A",
            accounts: &accounts,
            scopes: &[],
            action: "/authorize",
            hidden: &hidden,
        })
        .0;
        assert!(
            page.contains(r#"name="state" value="s&quot;1&lt;""#),
            "{page}"
        );
        assert!(!page.contains(r#"type="hidden" name="account""#));
        assert!(!page.contains(r#"type="hidden" name="decision""#));
        assert!(page.contains(r#"value="123" checked"#));
        assert!(page.contains("Portal &lt;1&gt;"));
    }

    #[test]
    fn pkce_s256_matches_the_rfc_example() {
        // RFC 7636 appendix B.
        assert!(pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            &PkceMethod::S256
        ));
    }

    #[test]
    fn a_code_works_once_and_its_reuse_revokes_the_grant() {
        let store = TokenStore::new(formats());
        let code = store.issue_code("c", "http://cb", "acct", vec![], None, 0);
        let issued = store
            .redeem_code(&code, "c", Some("http://cb"), None, &LIFE, 1000)
            .unwrap();
        assert!(store.authenticate(&issued.access.token, 2000).is_ok());
        assert_eq!(
            store
                .redeem_code(&code, "c", Some("http://cb"), None, &LIFE, 1000)
                .unwrap_err(),
            CodeError::Reused
        );
        assert_eq!(
            store.authenticate(&issued.access.token, 2000).unwrap_err(),
            BearerError::Revoked
        );
        assert_eq!(
            store
                .refresh(&issued.grant.refresh_token, "c", &LIFE, 3000)
                .unwrap_err(),
            RefreshError::Unknown
        );
    }

    #[test]
    fn codes_expire_and_check_client_redirect_and_verifier() {
        let store = TokenStore::new(formats());
        let c = |ch| store.issue_code("c", "http://cb", "a", vec![], ch, 0);
        assert_eq!(
            store
                .redeem_code(&c(None), "c", None, None, &LIFE, 600_001)
                .unwrap_err(),
            CodeError::Expired
        );
        assert_eq!(
            store
                .redeem_code(&c(None), "other", None, None, &LIFE, 1)
                .unwrap_err(),
            CodeError::ClientMismatch
        );
        assert_eq!(
            store
                .redeem_code(&c(None), "c", Some("http://evil"), None, &LIFE, 1)
                .unwrap_err(),
            CodeError::RedirectMismatch
        );
        let pkce = Some(("challenge".to_owned(), PkceMethod::Plain));
        assert_eq!(
            store
                .redeem_code(&c(pkce.clone()), "c", None, None, &LIFE, 1)
                .unwrap_err(),
            CodeError::VerifierMissing
        );
        assert_eq!(
            store
                .redeem_code(&c(pkce.clone()), "c", None, Some("nope"), &LIFE, 1)
                .unwrap_err(),
            CodeError::VerifierMismatch
        );
        assert!(
            store
                .redeem_code(&c(pkce), "c", None, Some("challenge"), &LIFE, 1)
                .is_ok()
        );
    }

    #[test]
    fn tokens_expire_refresh_and_rotate() {
        let store = TokenStore::new(formats());
        let issued = store.mint("c", "a", vec![], &LIFE, 0);
        assert_eq!(
            store
                .authenticate(&issued.access.token, 1_800_000)
                .unwrap_err(),
            BearerError::Expired
        );
        let again = store
            .refresh(&issued.grant.refresh_token, "c", &LIFE, 1_800_000)
            .unwrap();
        assert_eq!(
            again.refresh_token.as_deref(),
            Some(issued.grant.refresh_token.as_str())
        );
        assert!(store.authenticate(&again.access.token, 1_800_001).is_ok());

        let rotating = Lifetimes {
            rotate_refresh: true,
            ..LIFE
        };
        let rotated = store
            .refresh(&issued.grant.refresh_token, "c", &rotating, 1)
            .unwrap();
        let new_rt = rotated.refresh_token.unwrap();
        assert_ne!(new_rt, issued.grant.refresh_token);
        assert_eq!(
            store
                .refresh(&issued.grant.refresh_token, "c", &rotating, 2)
                .unwrap_err(),
            RefreshError::Unknown
        );
        let newest = store
            .refresh(&new_rt, "c", &rotating, 3)
            .unwrap()
            .refresh_token
            .unwrap();
        assert!(store.revoke(&newest));
        assert_eq!(
            store.refresh(&newest, "c", &rotating, 4).unwrap_err(),
            RefreshError::Unknown
        );
        assert_eq!(
            store.authenticate(&rotated.access.token, 5).unwrap_err(),
            BearerError::Revoked
        );
    }
}
