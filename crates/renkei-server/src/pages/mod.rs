//! The server-rendered pages of the connect flow (PRODUCT.md 5.1: `GET /connect/{token}` and
//! the page after `GET /oauth/callback`), in Japanese and English.
//!
//! Rendering only: handlers gather the facts into a [`ConnectPage`] or a [`ResultPage`] and
//! get back a whole HTML5 document. The templates (`crates/renkei-server/templates/`) are
//! embedded in the binary and rendered by minijinja with HTML auto-escaping, so every value a
//! handler passes in, and every text of `i18n.rs` filled with one, is escaped. The pages need
//! no external asset and no script; their CSS is inline ([`CONTENT_SECURITY_POLICY`]).
//!
//! The connect page's form posts back to [`ConnectPage::form_action`] with these fields:
//!
//! | field | when | value |
//! | --- | --- | --- |
//! | `lang` | always | the page's language, `ja` or `en` (feed it to [`pick_lang`] as the query) |
//! | `data_centre` | [`ConnectPage::data_centres`] non-empty | a [`DataCentreOption::location`], or empty if the admin picked nothing (the browser refuses that: the select is `required`) |
//! | `client_id`, `client_secret` | [`ClientField::Optional`] or [`ClientField::Required`] | as typed; empty when the optional section was left alone |
//! | `switch_account` | [`ConnectPage::allow_switch`] and ticked | `1` (absent when not ticked) |

mod i18n;

use std::sync::LazyLock;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Kwargs, Value};
use minijinja::{
    AutoEscape, Environment, Error, ErrorKind, Output, State, UndefinedBehavior, context,
};

/// The language of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ja,
    En,
}

impl Lang {
    /// `"ja"` or `"en"`: the `lang` attribute and the `?lang=` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    /// The language of a tag such as `ja`, `ja-JP`, `en_US` or `EN`; `None` for any other.
    fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?;
        if primary.eq_ignore_ascii_case("ja") {
            Some(Lang::Ja)
        } else if primary.eq_ignore_ascii_case("en") {
            Some(Lang::En)
        } else {
            None
        }
    }
}

/// `?lang=` wins, then the best of `Accept-Language` (q-values honoured; `ja`, `ja-JP`, `en-US`
/// …; anything else ignored), then the tenant's locale ("ja"/"en"), then Japanese.
///
/// A value that names neither language (`?lang=fr`, an empty or unreadable header) is skipped,
/// not an error. Among `Accept-Language` entries the highest q wins and the earlier one wins a
/// tie; an entry with `q=0` or a malformed q is not acceptable.
pub fn pick_lang(query: Option<&str>, accept_language: Option<&str>, tenant_locale: &str) -> Lang {
    query
        .and_then(Lang::from_tag)
        .or_else(|| accept_language.and_then(best_accepted))
        .or_else(|| Lang::from_tag(tenant_locale))
        .unwrap_or(Lang::Ja)
}

fn best_accepted(header: &str) -> Option<Lang> {
    let mut best: Option<(Lang, f32)> = None;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let Some(lang) = parts.next().and_then(Lang::from_tag) else {
            continue;
        };
        let mut q = Some(1.0_f32);
        for param in parts {
            if let Some((name, value)) = param.split_once('=')
                && name.trim().eq_ignore_ascii_case("q")
            {
                q = value
                    .trim()
                    .parse::<f32>()
                    .ok()
                    .filter(|q| (0.0..=1.0).contains(q));
            }
        }
        match q {
            Some(q) if q > 0.0 && best.is_none_or(|(_, b)| q > b) => best = Some((lang, q)),
            _ => {}
        }
    }
    best.map(|(lang, _)| lang)
}

/// One choice of the Zoho data-centre select.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataCentreOption {
    /// The submitted value (`us`, `jp`, …).
    pub location: String,
    /// What the admin reads (`日本 (zoho.jp)`).
    pub name: String,
    pub selected: bool,
}

/// Whether the connect page asks for an OAuth client of the admin's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientField {
    /// The deployment has an OAuth client; nothing to ask.
    None,
    /// The admin may use their own client (optional): show a collapsible section.
    Optional { redirect_uri: String },
    /// The deployment has none: the admin must enter client id + secret.
    Required { redirect_uri: String },
}

/// Everything the connect page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectPage {
    pub lang: Lang,
    /// May be empty: the page then says "this workspace".
    pub tenant_name: String,
    /// `"hubspot"`, `"salesforce"` or `"zoho_crm"` (another shows no "what will be shared").
    pub provider: String,
    /// `"HubSpot"`.
    pub provider_name: String,
    /// `Some` → a member's personal connection (HubSpot per-user).
    pub member_name: Option<String>,
    /// `Some(name)` → a reconnect: "currently connected to …", and the button says reconnect.
    pub current_account: Option<String>,
    /// The POST target (the same `/connect/{token}` URL).
    pub form_action: String,
    /// Non-empty only for Zoho: a `<select name="data_centre">`. With none selected, the select
    /// starts on an empty "choose" option.
    pub data_centres: Vec<DataCentreOption>,
    /// Inputs `client_id` and `client_secret` (type=password).
    pub client: ClientField,
    /// A checkbox `switch_account` = `1` ("connect a different account").
    pub allow_switch: bool,
    /// Already formatted for display.
    pub expires_at: String,
    /// A form error shown above the button, as given (e.g. [`text`] of an `error.*` key).
    pub error: Option<String>,
}

/// The connect page, a whole HTML document.
pub fn render_connect(page: &ConnectPage) -> String {
    render("connect.html", connect_context(page))
}

/// How the flow ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Connected {
        provider_name: String,
        /// May be empty: the page then names only the provider.
        account_name: String,
    },
    /// The admin pressed Deny at the provider.
    Denied { provider_name: String },
    /// A provider or renkei error; `code` is stable snake_case and shown small for support,
    /// `message` is shown as given (empty → the generic `error.internal` text).
    Failed { code: String, message: String },
}

/// Everything the result page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultPage {
    pub lang: Lang,
    pub outcome: Outcome,
    /// A button back to the host app; only an `http://` or `https://` URL becomes a link,
    /// anything else is dropped (and the page says it may be closed).
    pub return_url: Option<String>,
}

/// The page after the callback (or any error: expired link, bad state…). With a return_url, a
/// button/link back to it. Never a stack trace.
pub fn render_result(page: &ResultPage) -> String {
    render("result.html", result_context(page))
}

/// The text of `key` in `lang` (keys are listed in `pages/i18n.rs`; the `error.*` ones are meant for
/// handlers). An unknown key logs a warning and gives the generic `error.internal` text, so a
/// mistake never shows a key to a user nor panics; use [`try_text`] to tell.
pub fn text(lang: Lang, key: &str) -> &'static str {
    try_text(lang, key).unwrap_or_else(|| {
        tracing::warn!(key, "no text has this key");
        try_text(lang, "error.internal").unwrap_or_default()
    })
}

/// The text of `key` in `lang`, or `None` for an unknown key (e.g. to map a provider's error
/// code to a message only when there is one: `try_text(lang, &format!("error.{code}"))`).
pub fn try_text(lang: Lang, key: &str) -> Option<&'static str> {
    i18n::TEXTS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|&(_, ja, en)| match lang {
            Lang::Ja => ja,
            Lang::En => en,
        })
}

/// [`text`] with its `{name}` placeholders filled: `text_with(lang, "result.error_code",
/// &[("code", "invalid_client")])`. The result is plain text, to be escaped like any value.
pub fn text_with(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    i18n::fill(text(lang, key), args)
}

/// A `Content-Security-Policy` these pages satisfy: no script, no external asset, the inline
/// style, no framing. It deliberately has no `form-action`: some browsers apply it to the
/// redirects that follow the form's POST, and the connect form's answer redirects to the
/// provider.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'";

// ───────────────────────────── rendering ─────────────────────────────

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("connect.html", include_str!("../../templates/connect.html")),
    (
        "client_fields.html",
        include_str!("../../templates/client_fields.html"),
    ),
    ("result.html", include_str!("../../templates/result.html")),
];

/// Shown if a template fails at run time, which the tests rule out for every branch.
const FALLBACK: &str = "<!doctype html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>エラー / Error</title>\
</head><body><main><h1>エラーが発生しました / Something went wrong</h1>\
<p>しばらくしてから、もう一度お試しください。<br>Please try again in a few minutes.</p>\
</main></body></html>\n";

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // A misspelt variable is an error (caught by the tests), never an empty string.
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_formatter(format_value);
    // Block tags on their own lines leave no blank lines behind.
    env.set_syntax(
        SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("a valid syntax"),
    );
    env.add_function("t", t);
    for (name, source) in TEMPLATES {
        // The templates are part of the binary and every test renders them.
        env.add_template(name, source)
            .expect("an embedded template does not parse");
    }
    env
});

fn render(name: &str, ctx: Value) -> String {
    try_render(name, ctx).unwrap_or_else(|err| {
        tracing::error!(template = name, error = %err, "a page failed to render");
        FALLBACK.to_owned()
    })
}

fn try_render(name: &str, ctx: Value) -> Result<String, Error> {
    ENV.get_template(name)?.render(ctx)
}

/// Writes values HTML-escaped (`&`, `<`, `>`, `"`, `'`) in `.html` templates. minijinja's own
/// escaper also escapes `/`, which is valid but makes every URL unreadable in the source.
fn format_value(out: &mut Output, state: &mut State, value: &Value) -> Result<(), Error> {
    if *state.auto_escape() != AutoEscape::Html || value.is_safe() {
        return minijinja::escape_formatter(out, state, value);
    }
    let owned;
    let s = match value.as_str() {
        Some(s) => s,
        None => {
            owned = value.to_string();
            &owned
        }
    };
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.write_str(&s[last..i])?;
        out.write_str(entity)?;
        last = i + 1;
    }
    out.write_str(&s[last..])?;
    Ok(())
}

/// `t("key", name=value, …)` in templates: the text in the page's language with its
/// placeholders filled. The result is a plain string, so the output escapes it. An unknown key
/// or a placeholder without a value is an error, which the tests catch.
fn t(state: &State, key: &str, kwargs: Kwargs) -> Result<String, Error> {
    let lang = state
        .lookup("lang")
        .and_then(|v| v.as_str().and_then(Lang::from_tag))
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "t() needs `lang`"))?;
    let text = try_text(lang, key).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("no text has the key {key:?}"),
        )
    })?;
    let mut args: Vec<(&str, String)> = Vec::new();
    for name in kwargs.args() {
        let value: Value = kwargs.get(name)?;
        args.push((
            name,
            value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned),
        ));
    }
    for name in i18n::placeholders(text) {
        if !args.iter().any(|(n, _)| *n == name) {
            return Err(Error::new(
                ErrorKind::MissingArgument,
                format!("{key} needs {{{name}}}"),
            ));
        }
    }
    let args: Vec<(&str, &str)> = args.iter().map(|(n, v)| (*n, v.as_str())).collect();
    Ok(i18n::fill(text, &args))
}

fn connect_context(page: &ConnectPage) -> Value {
    let lang = page.lang;
    let title_key = if page.current_account.is_some() {
        "page.title_reconnect"
    } else {
        "page.title_connect"
    };
    let (client, redirect_uri) = match &page.client {
        ClientField::None => ("none", ""),
        ClientField::Optional { redirect_uri } => ("optional", redirect_uri.as_str()),
        ClientField::Required { redirect_uri } => ("required", redirect_uri.as_str()),
    };
    let data_centres: Vec<Value> = page
        .data_centres
        .iter()
        .map(|dc| {
            context! {
                location => dc.location.as_str(),
                name => dc.name.as_str(),
                selected => dc.selected,
            }
        })
        .collect();
    let shared: Vec<Value> = i18n::shared_keys(&page.provider)
        .iter()
        .map(|k| Value::from(*k))
        .collect();
    context! {
        lang => lang.as_str(),
        title => text_with(lang, title_key, &[("provider", &page.provider_name)]),
        tenant_name => page.tenant_name.as_str(),
        provider => page.provider.as_str(),
        provider_name => page.provider_name.as_str(),
        member_name => page.member_name.as_deref(),
        current_account => page.current_account.as_deref(),
        form_action => page.form_action.as_str(),
        data_centres => data_centres,
        data_centre_selected => page.data_centres.iter().any(|dc| dc.selected),
        client => client,
        redirect_uri => redirect_uri,
        register_key => i18n::register_key(&page.provider),
        allow_switch => page.allow_switch,
        expires_at => page.expires_at.as_str(),
        error => page.error.as_deref().filter(|e| !e.is_empty()),
        shared => shared,
    }
}

fn result_context(page: &ResultPage) -> Value {
    let lang = page.lang;
    let return_url = page.return_url.as_deref().filter(|u| linkable(u));
    let base = context! {
        lang => lang.as_str(),
        return_url => return_url,
    };
    let specific = match &page.outcome {
        Outcome::Connected {
            provider_name,
            account_name,
        } => context! {
            outcome => "connected",
            status => "ok",
            icon => "✓",
            title => text(lang, "result.connected_title"),
            provider_name => provider_name.as_str(),
            account_name => account_name.as_str(),
        },
        Outcome::Denied { provider_name } => context! {
            outcome => "denied",
            status => "warn",
            icon => "!",
            title => text(lang, "result.denied_title"),
            provider_name => provider_name.as_str(),
        },
        Outcome::Failed { code, message } => context! {
            outcome => "failed",
            status => "bad",
            icon => "✕",
            title => text(lang, "result.failed_title"),
            code => code.as_str(),
            message => if message.trim().is_empty() {
                text(lang, "error.internal")
            } else {
                message.as_str()
            },
        },
    };
    context! { ..specific, ..base }
}

/// Only `http(s)://host…` becomes a link: never `javascript:`, `data:` or a relative path, and
/// nothing with whitespace or control characters.
fn linkable(url: &str) -> bool {
    let rest = ["https://", "http://"].iter().find_map(|scheme| {
        url.get(..scheme.len())
            .filter(|p| p.eq_ignore_ascii_case(scheme))
            .map(|_| &url[scheme.len()..])
    });
    match rest {
        Some(rest) => {
            !rest.is_empty()
                && !rest.starts_with(['/', '\\'])
                && !url.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests;
