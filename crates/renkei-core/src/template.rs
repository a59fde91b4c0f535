//! The templates of recipe settings: a call's subject, a meeting note's member line, a
//! booking's property mappings (PRODUCT.md 4.3–4.5). This module owns their language and its
//! filters, and nothing else: which context a recipe renders over is the recipe's business.
//!
//! The language is minijinja's Jinja subset with a deliberately small environment: no
//! auto-escaping (the output is plain text for a CRM field, never HTML), lenient undefined
//! values (an answer the guest skipped, or a customer without a company, renders empty rather
//! than failing the write), and only these filters:
//!
//! - `email_domain`: the part of an address after `@`, lower-cased, and empty for free mail
//!   (gmail.com, yahoo.co.jp, …; [`FreeMailDomains::builtin`]), so that a guest's address never
//!   writes a free-mail domain as a company's domain (4.5);
//! - `e164`: a phone number in any notation people type, in E.164 for the tenant's region
//!   ([`normalize_phone`]); empty when the value is not a phone number;
//! - minijinja's `default`, `trim`, `lower`, `upper` and `join`.
//!
//! A template is compiled once ([`Template::parse`]) and rendered many times; parsing also
//! refuses filters, tests and functions this environment does not have, as far as a trial
//! render over an empty context reaches (a branch that is never taken with every variable
//! undefined is only checked when it renders).

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, State, UndefinedBehavior};

use crate::EmailAddress;
use crate::matching::email::FreeMailDomains;
use crate::matching::phone::{Region, normalize_phone};

/// The name of the one template each environment holds.
const NAME: &str = "template";

/// The context key carrying the tenant's phone region to the `e164` filter. It contains a
/// character no template identifier can, so a template cannot read or shadow it.
const REGION_KEY: &str = "renkei:region";

/// The longest template accepted: settings templates are one line or a short paragraph, and
/// the bound keeps a hostile settings document from costing much to compile.
const MAX_SOURCE_CHARS: usize = 4_096;

/// A compiled template. Cloning is cheap (the compiled form is shared).
#[derive(Clone)]
pub struct Template {
    env: Arc<Environment<'static>>,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let source = self
            .env
            .get_template(NAME)
            .map(|t| t.source().to_owned())
            .unwrap_or_default();
        f.debug_struct("Template").field("source", &source).finish()
    }
}

/// A template that does not parse or does not render; the message says where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    pub message: String,
}

impl TemplateError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// minijinja's message with the line, when it knows one.
    fn from_minijinja(e: &Error) -> Self {
        let detail = e.detail().map(|d| format!(": {d}")).unwrap_or_default();
        let line = e.line().map(|l| format!(" (line {l})")).unwrap_or_default();
        Self::new(format!("{}{detail}{line}", e.kind()))
    }
}

impl Template {
    /// Compiles `src`, refusing syntax errors and unknown filters, tests and functions.
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        if src.chars().count() > MAX_SOURCE_CHARS {
            return Err(TemplateError::new(format!(
                "a template may be at most {MAX_SOURCE_CHARS} characters"
            )));
        }
        let mut env = Environment::empty();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        // `none` (a JSON null that reached the output, say inside a list) prints nothing rather
        // than the word "none": the output is a CRM field.
        env.set_formatter(|out, state, value| {
            if value.is_none() {
                Ok(())
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        env.add_filter("email_domain", email_domain);
        env.add_filter("e164", e164);
        env.add_filter("default", minijinja::filters::default);
        env.add_filter("trim", minijinja::filters::trim);
        env.add_filter("lower", minijinja::filters::lower);
        env.add_filter("upper", minijinja::filters::upper);
        env.add_filter("join", minijinja::filters::join);
        env.add_template_owned(NAME, src.to_owned())
            .map_err(|e| TemplateError::from_minijinja(&e))?;
        let template = Template { env: Arc::new(env) };
        // minijinja resolves filters when it applies them, so a misspelt filter would only
        // show when an event renders. A render over an empty context catches it now; other
        // failures of that render (a value of the wrong type) depend on the data and are
        // left to the real render.
        if let Err(e) = template.render_inner(BTreeMap::new(), "JP")
            && matches!(
                e.kind(),
                ErrorKind::UnknownFilter
                    | ErrorKind::UnknownTest
                    | ErrorKind::UnknownFunction
                    | ErrorKind::SyntaxError
            )
        {
            return Err(TemplateError::from_minijinja(&e));
        }
        Ok(template)
    }

    /// Renders over `ctx` (a JSON object); `region` is the tenant's phone region for `e164`
    /// (ISO 3166-1 alpha-2, `JP`).
    pub fn render(&self, ctx: &serde_json::Value, region: &str) -> Result<String, TemplateError> {
        let root = match ctx {
            serde_json::Value::Object(map) => map
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), to_value(v)))
                .collect::<BTreeMap<String, Value>>(),
            serde_json::Value::Null => BTreeMap::new(),
            _ => return Err(TemplateError::new("the context must be a JSON object")),
        };
        self.render_inner(root, region)
            .map_err(|e| TemplateError::from_minijinja(&e))
    }

    fn render_inner(
        &self,
        mut root: BTreeMap<String, Value>,
        region: &str,
    ) -> Result<String, Error> {
        root.insert(REGION_KEY.to_owned(), Value::from(region));
        self.env.get_template(NAME)?.render(Value::from(root))
    }
}

/// Parses `src` and renders it once.
pub fn render(src: &str, ctx: &serde_json::Value, region: &str) -> Result<String, TemplateError> {
    Template::parse(src)?.render(ctx, region)
}

/// A JSON value as a template value. Integers stay integers (a `numberofemployees` answer of
/// `120` renders `120`, not `120.0`). A key whose value is `null` is left out, so that it is
/// undefined like a key that is absent: host apps send `"company": null` and leave keys out
/// interchangeably, and `default` should fall back in both cases.
fn to_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::from(()),
        serde_json::Value::Bool(b) => Value::from(*b),
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::from(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(a) => Value::from(a.iter().map(to_value).collect::<Vec<_>>()),
        serde_json::Value::Object(m) => Value::from(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), to_value(v)))
                .collect::<BTreeMap<String, Value>>(),
        ),
    }
}

/// The text of a filter's input: empty for undefined and `none`, numbers as written.
fn text_of(v: &Value) -> Option<String> {
    if v.is_undefined() || v.is_none() {
        return None;
    }
    Some(match v.as_str() {
        Some(s) => s.to_owned(),
        None => v.to_string(),
    })
}

/// `email_domain`: the domain of an address, lower-cased; empty for free mail and for values
/// that are not an address.
fn email_domain(v: &Value) -> String {
    let Some(text) = text_of(v) else {
        return String::new();
    };
    let Ok(email) = EmailAddress::parse(&text) else {
        return String::new();
    };
    crate::company_domain(&email, FreeMailDomains::builtin())
        .unwrap_or_default()
        .to_owned()
}

/// `e164`: a phone number in E.164 for the tenant's region; empty when it is not one.
fn e164(state: &State, v: &Value) -> Result<String, Error> {
    let Some(text) = text_of(v) else {
        return Ok(String::new());
    };
    let region = state
        .lookup(REGION_KEY)
        .and_then(|r| r.as_str().map(str::to_owned))
        .unwrap_or_default();
    let region = Region::parse(&region).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            "e164 needs the tenant's region",
        )
        .with_source(e)
    })?;
    Ok(normalize_phone(&text, &region)
        .map(|p| p.e164.as_str().to_owned())
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn booking() -> serde_json::Value {
        json!({
            "booking_id": "bk_1",
            "calendar_id": "cal-1",
            "guest": {
                "name": "山田 太郎",
                "email": "Taro.Yamada@Example.CO.JP",
                "company": "株式会社サンプル",
                "phone": "０３－１２３４－５６７８",
            },
            "answers": {"employees": 120, "topics": ["導入", "料金"], "note": "  よろしく  "},
            "free": {"email": "hanako@gmail.com", "isp": "jiro@ab.so-net.ne.jp"},
            "direction_label": "着信",
            "member": {"id": "m_1", "name": null},
        })
    }

    #[test]
    fn renders_the_table() {
        let cases: &[(&str, &str, &str)] = &[
            ("{{ guest.email | email_domain }}", "JP", "example.co.jp"),
            ("{{ free.email | email_domain }}", "JP", ""),
            ("{{ free.isp | email_domain }}", "JP", ""),
            ("{{ guest.name | email_domain }}", "JP", ""),
            ("{{ guest.missing | email_domain }}", "JP", ""),
            ("{{ guest.phone | e164 }}", "JP", "+81312345678"),
            ("{{ '(212) 555-0132' | e164 }}", "US", "+12125550132"),
            (
                "{{ '090-1234-5678 内線 12' | e164 }}",
                "JP",
                "+819012345678",
            ),
            ("{{ guest.name | e164 }}", "JP", ""),
            ("{{ answers.fax | e164 }}", "JP", ""),
            (
                "{{ guest.company }}（{{ guest.name }}）",
                "JP",
                "株式会社サンプル（山田 太郎）",
            ),
            ("{{ answers.employees }}", "JP", "120"),
            ("{{ answers.topics | join('、') }}", "JP", "導入、料金"),
            ("[{{ answers.note | trim }}]", "JP", "[よろしく]"),
            (
                "{{ guest.email | lower }}",
                "JP",
                "taro.yamada@example.co.jp",
            ),
            ("{{ 'abc' | upper }}", "JP", "ABC"),
            ("{{ answers.skipped }}", "JP", ""),
            ("{{ answers.skipped.deeper }}", "JP", ""),
            (
                "{{ nothing.at.all | default('名前なし') }}",
                "JP",
                "名前なし",
            ),
            ("{{ member.name | default(member.id) }}", "JP", "m_1"),
            ("{{ member.name | default(member.id, true) }}", "JP", "m_1"),
            ("通話（{{ direction_label }}）", "JP", "通話（着信）"),
            ("<b>{{ '<&>' }}</b>", "JP", "<b><&></b>"),
            (
                "{% if guest.company %}{{ guest.company }}{% else %}-{% endif %}",
                "JP",
                "株式会社サンプル",
            ),
            ("{% if answers.none %}x{% else %}-{% endif %}", "JP", "-"),
            ("[{{ none }}]", "JP", "[]"),
        ];
        for (src, region, want) in cases {
            let got = render(src, &booking(), region).unwrap_or_else(|e| panic!("{src}: {e}"));
            assert_eq!(&got, want, "{src}");
        }
    }

    #[test]
    fn member_line_default_falls_back_on_none() {
        // `default` replaces only undefined values unless told to treat falsy ones alike; a
        // null name with `default(…, true)` falls back too.
        let ctx = json!({"member": {"id": "m_2", "name": null}});
        assert_eq!(
            render("{{ member.name | default(member.id, true) }}", &ctx, "JP").unwrap(),
            "m_2"
        );
        let ctx = json!({"member": {"id": "m_2", "name": "佐藤 花子"}});
        assert_eq!(
            render("担当: {{ member.name | default(member.id) }}", &ctx, "JP").unwrap(),
            "担当: 佐藤 花子"
        );
    }

    #[test]
    fn refuses_what_cannot_render() {
        for src in [
            "{{ guest.name ",
            "{% if x %}no end",
            "{{ x | no_such_filter }}",
            "{{ x | escape }}",
            "{{ range(3) }}",
            "{% if x is defined %}{% endif %}",
            "{{ x | urlencode }}",
        ] {
            let e = Template::parse(src).unwrap_err();
            assert!(!e.message.is_empty(), "{src}");
        }
        let long = "a".repeat(MAX_SOURCE_CHARS + 1);
        assert!(Template::parse(&long).is_err());
        // The context must be an object; the region must be real when `e164` runs.
        let t = Template::parse("{{ p | e164 }}").unwrap();
        assert!(t.render(&json!([1]), "JP").is_err());
        assert!(t.render(&json!({"p": "03-1234-5678"}), "XX").is_err());
        assert_eq!(t.render(&json!({}), "XX").unwrap(), "");
    }

    #[test]
    fn compiled_once_rendered_many_times_across_threads() {
        let t = Template::parse("{{ n }}:{{ p | e164 }}").unwrap();
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let t = t.clone();
                std::thread::spawn(move || {
                    t.render(&json!({"n": i, "p": "03-1234-5678"}), "JP")
                        .unwrap()
                })
            })
            .collect();
        let mut out: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        out.sort();
        assert_eq!(
            out,
            [
                "0:+81312345678",
                "1:+81312345678",
                "2:+81312345678",
                "3:+81312345678"
            ]
        );
    }
}
