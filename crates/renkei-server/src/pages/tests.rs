use super::*;

/// Renders through the fallible path, so a template error fails the test instead of turning
/// into the fallback page.
fn connect(page: &ConnectPage) -> String {
    let html = try_render("connect.html", connect_context(page)).expect("connect page renders");
    assert_well_formed(&html);
    html
}

fn result(page: &ResultPage) -> String {
    let html = try_render("result.html", result_context(page)).expect("result page renders");
    assert_well_formed(&html);
    html
}

/// Every non-void element is closed, in order. The pages have no script and their CSS has no
/// `<`, so a plain scan is enough.
fn assert_well_formed(html: &str) {
    const VOID: &[&str] = &["meta", "input", "br", "link", "img", "hr"];
    assert!(html.starts_with("<!doctype html>\n<html lang=\""), "{html}");
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        let end = rest.find('>').expect("an unclosed tag");
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let top = stack
                .pop()
                .unwrap_or_else(|| panic!("</{name}> closes nothing"));
            assert_eq!(top, name, "</{name}> closes <{top}>");
        } else {
            let name = tag.split([' ', '\n']).next().unwrap().to_ascii_lowercase();
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric()),
                "odd tag <{tag}>"
            );
            if !VOID.contains(&name.as_str()) {
                stack.push(name);
            }
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
}

fn zoho_required(lang: Lang) -> ConnectPage {
    ConnectPage {
        lang,
        tenant_name: "株式会社サンプル".into(),
        provider: "zoho_crm".into(),
        provider_name: "Zoho CRM".into(),
        member_name: None,
        current_account: None,
        form_action: "/connect/ct_zoho123".into(),
        data_centres: vec![
            DataCentreOption {
                location: "us".into(),
                name: match lang {
                    Lang::Ja => "米国 (zoho.com)",
                    Lang::En => "United States (zoho.com)",
                }
                .into(),
                selected: false,
            },
            DataCentreOption {
                location: "jp".into(),
                name: match lang {
                    Lang::Ja => "日本 (zoho.jp)",
                    Lang::En => "Japan (zoho.jp)",
                }
                .into(),
                selected: false,
            },
        ],
        client: ClientField::Required {
            redirect_uri: "https://renkei.example.com/oauth/callback".into(),
        },
        allow_switch: false,
        expires_at: "2026-11-21 17:30 JST".into(),
        error: None,
    }
}

fn hubspot_member(lang: Lang) -> ConnectPage {
    ConnectPage {
        lang,
        tenant_name: "Acme".into(),
        provider: "hubspot".into(),
        provider_name: "HubSpot".into(),
        member_name: Some("山田 太郎".into()),
        current_account: None,
        form_action: "/connect/ct_member456".into(),
        data_centres: vec![],
        client: ClientField::None,
        allow_switch: false,
        expires_at: "2026-11-21 17:30 JST".into(),
        error: None,
    }
}

fn salesforce_reconnect(lang: Lang) -> ConnectPage {
    ConnectPage {
        lang,
        tenant_name: String::new(),
        provider: "salesforce".into(),
        provider_name: "Salesforce".into(),
        member_name: None,
        current_account: Some("Acme Japan (acme.my.salesforce.com)".into()),
        form_action: "/connect/ct_re789".into(),
        data_centres: vec![],
        client: ClientField::Optional {
            redirect_uri: "https://renkei.example.com/oauth/callback".into(),
        },
        allow_switch: true,
        expires_at: "2026-11-21 17:30 JST".into(),
        error: Some(text(lang, "error.account_changed").into()),
    }
}

fn connected(lang: Lang) -> ResultPage {
    ResultPage {
        lang,
        outcome: Outcome::Connected {
            provider_name: "HubSpot".into(),
            account_name: "acme.example (portal 12345678)".into(),
        },
        return_url: Some("https://app.example.com/settings/integrations?tab=crm&ok=1".into()),
    }
}

fn denied(lang: Lang) -> ResultPage {
    ResultPage {
        lang,
        outcome: Outcome::Denied {
            provider_name: "Salesforce".into(),
        },
        return_url: Some("https://app.example.com/settings/integrations".into()),
    }
}

fn failed(lang: Lang) -> ResultPage {
    ResultPage {
        lang,
        outcome: Outcome::Failed {
            code: "link_expired".into(),
            message: text(lang, "error.link_expired").into(),
        },
        return_url: None,
    }
}

// ───────────────────────────── pick_lang ─────────────────────────────

#[test]
fn pick_lang_table() {
    use Lang::{En, Ja};
    let cases: &[(Option<&str>, Option<&str>, &str, Lang)] = &[
        // the query wins over everything
        (Some("en"), Some("ja"), "ja", En),
        (Some("ja"), Some("en-US,en;q=0.9"), "en", Ja),
        (Some("EN"), None, "ja", En),
        (Some("ja-JP"), None, "en", Ja),
        // a query naming neither language is skipped
        (Some("fr"), Some("en"), "ja", En),
        (Some(""), None, "en", En),
        // Accept-Language, with q-values
        (None, Some("en-US,en;q=0.9,ja;q=0.8"), "ja", En),
        (None, Some("ja;q=0.1, en;q=0.5"), "ja", En),
        (None, Some("ja-JP,ja;q=0.9,en-US;q=0.8,en;q=0.7"), "en", Ja),
        (None, Some("fr-FR,fr;q=0.9,en;q=0.5,ja;q=0.4"), "ja", En),
        (None, Some("en;q=0.5,ja;q=0.5"), "en", En), // a tie: the first
        (None, Some("en;q=0,ja;q=0.1"), "en", Ja),   // q=0: not acceptable
        (None, Some("en;q=2,ja;q=0.1"), "en", Ja),   // out of range: not acceptable
        (None, Some("en;q=abc"), "ja", Ja),          // malformed q: skipped, then the tenant
        (None, Some("EN-gb"), "ja", En),
        (None, Some("ja_JP"), "en", Ja),
        (None, Some("*"), "en", En),
        // nothing usable: the tenant's locale
        (None, Some("fr"), "en", En),
        (None, Some("fr"), "ja", Ja),
        (None, Some("zh-CN,ko;q=0.9"), "en", En),
        (None, Some(";;,,=q=;"), "en", En),
        (None, Some("\u{0}\u{7f}garbage, 日本語"), "en", En),
        (None, Some(""), "en", En),
        (None, None, "en", En),
        (None, None, "en-US", En),
        // and finally Japanese
        (None, None, "ja", Ja),
        (None, None, "", Ja),
        (None, None, "fr", Ja),
        (None, Some("fr"), "de", Ja),
    ];
    for (query, accept, locale, want) in cases {
        assert_eq!(
            pick_lang(*query, *accept, locale),
            *want,
            "query {query:?}, Accept-Language {accept:?}, tenant locale {locale:?}"
        );
    }
    assert_eq!(Lang::Ja.as_str(), "ja");
    assert_eq!(Lang::En.as_str(), "en");
}

// ───────────────────────────── snapshots ─────────────────────────────

#[test]
fn snapshot_connect_zoho_required() {
    insta::assert_snapshot!(
        "connect_zoho_required_ja",
        connect(&zoho_required(Lang::Ja))
    );
    insta::assert_snapshot!(
        "connect_zoho_required_en",
        connect(&zoho_required(Lang::En))
    );
}

#[test]
fn snapshot_connect_hubspot_member() {
    insta::assert_snapshot!(
        "connect_hubspot_member_ja",
        connect(&hubspot_member(Lang::Ja))
    );
    insta::assert_snapshot!(
        "connect_hubspot_member_en",
        connect(&hubspot_member(Lang::En))
    );
}

#[test]
fn snapshot_connect_reconnect_with_switch() {
    insta::assert_snapshot!(
        "connect_salesforce_reconnect_ja",
        connect(&salesforce_reconnect(Lang::Ja))
    );
    insta::assert_snapshot!(
        "connect_salesforce_reconnect_en",
        connect(&salesforce_reconnect(Lang::En))
    );
}

#[test]
fn snapshot_results() {
    insta::assert_snapshot!("result_connected_ja", result(&connected(Lang::Ja)));
    insta::assert_snapshot!("result_connected_en", result(&connected(Lang::En)));
    insta::assert_snapshot!("result_denied_ja", result(&denied(Lang::Ja)));
    insta::assert_snapshot!("result_denied_en", result(&denied(Lang::En)));
    insta::assert_snapshot!("result_failed_ja", result(&failed(Lang::Ja)));
    insta::assert_snapshot!("result_failed_en", result(&failed(Lang::En)));
}

// ───────────────────────────── the pages' content ─────────────────────────────

#[test]
fn connect_page_has_the_form_and_the_one_button() {
    let ja = connect(&hubspot_member(Lang::Ja));
    assert!(ja.contains("<html lang=\"ja\">"));
    assert!(ja.contains(r#"<form method="post" action="/connect/ct_member456">"#));
    assert!(ja.contains(r#"<button type="submit">HubSpotに接続</button>"#));
    assert_eq!(ja.matches("<button").count(), 1);
    assert!(ja.contains(r#"<input type="hidden" name="lang" value="ja">"#));
    assert!(ja.contains("山田 太郎さん個人のHubSpotアカウント"));
    assert!(ja.contains(r#"<a href="?lang=en""#));
    for absent in ["client_id", "data_centre", "switch_account", "<script"] {
        assert!(!ja.contains(absent), "{absent}");
    }
    let en = connect(&hubspot_member(Lang::En));
    assert!(en.contains("<html lang=\"en\">"));
    assert!(en.contains(r#"<button type="submit">Connect HubSpot</button>"#));
    assert!(en.contains(r#"<a href="?lang=ja""#));

    let re = connect(&salesforce_reconnect(Lang::Ja));
    assert!(re.contains(r#"<button type="submit">Salesforceに再接続</button>"#));
    assert!(re.contains(r#"<input type="checkbox" name="switch_account" value="1""#));
    assert!(
        re.contains("<details>"),
        "an optional client is collapsible"
    );
    assert!(re.contains(r#"role="alert""#));
    assert!(
        re.contains("このワークスペース"),
        "no tenant name: a generic phrase"
    );
}

#[test]
fn connect_page_says_what_is_shared_per_provider() {
    let cases = [
        (
            "hubspot",
            &["コンタクト", "会社", "取引", "担当者", "アクティビティー"][..],
            &["Contacts", "companies", "deals", "Owners", "activity"][..],
        ),
        (
            "salesforce",
            &[
                "リード",
                "取引先責任者",
                "取引先",
                "商談",
                "ToDo",
                "ユーザー",
            ],
            &[
                "Leads",
                "contacts",
                "accounts",
                "opportunities",
                "Tasks",
                "users",
            ],
        ),
        (
            "zoho_crm",
            &[
                "見込み客",
                "連絡先",
                "取引先",
                "商談",
                "メモ",
                "ユーザー",
                "組織",
            ],
            &[
                "Leads",
                "contacts",
                "accounts",
                "deals",
                "Notes",
                "Users",
                "organisation",
            ],
        ),
    ];
    for (provider, ja_words, en_words) in cases {
        for (lang, words) in [(Lang::Ja, ja_words), (Lang::En, en_words)] {
            let page = ConnectPage {
                provider: provider.into(),
                ..hubspot_member(lang)
            };
            let html = connect(&page);
            let list = &html[html.find("<ul>").unwrap()..html.find("</ul>").unwrap()];
            for word in words {
                assert!(list.contains(word), "{provider} {lang:?}: {word}");
            }
        }
    }
    // A provider without a list shows no empty heading.
    let other = connect(&ConnectPage {
        provider: "mailchimp".into(),
        provider_name: "Mailchimp".into(),
        ..hubspot_member(Lang::Ja)
    });
    assert!(!other.contains("<ul>") && !other.contains("共有される情報"));
}

#[test]
fn zoho_page_asks_for_a_data_centre_and_the_client() {
    let html = connect(&zoho_required(Lang::Ja));
    assert!(html.contains(r#"<select id="data_centre" name="data_centre" required"#));
    assert!(html.contains(r#"<option value="" selected>選んでください</option>"#));
    assert!(html.contains(r#"<option value="jp">日本 (zoho.jp)</option>"#));
    assert!(html.contains("Zoho API Console"));
    assert!(html.contains("Server-based Applications"));
    assert!(html.contains("api-console.zoho.jp"));
    assert!(html.contains(r#"<code class="uri">https://renkei.example.com/oauth/callback</code>"#));
    assert!(html.contains(
        r#"name="client_id" autocomplete="off" autocapitalize="off" spellcheck="false" required>"#
    ));
    assert!(html.contains(r#"<input type="password" id="client_secret" name="client_secret""#));
    assert!(
        !html.contains("<details>"),
        "a required client is not hidden"
    );

    // A preselected data centre: no empty choice.
    let mut page = zoho_required(Lang::En);
    page.data_centres[1].selected = true;
    page.client = ClientField::None;
    let html = connect(&page);
    assert!(html.contains(r#"<option value="jp" selected>Japan (zoho.jp)</option>"#));
    assert!(!html.contains(r#"<option value="""#));
    assert!(!html.contains("client_id"));
}

#[test]
fn every_branch_of_the_connect_page_renders() {
    for lang in [Lang::Ja, Lang::En] {
        for provider in ["hubspot", "salesforce", "zoho_crm", "other"] {
            for client in [
                ClientField::None,
                ClientField::Optional {
                    redirect_uri: "https://x.example/cb".into(),
                },
                ClientField::Required {
                    redirect_uri: "https://x.example/cb".into(),
                },
            ] {
                for (member, current, switch, tenant, error) in [
                    (None, None, false, "", None),
                    (Some("m"), Some("acct"), true, "T", Some("e")),
                    (None, None, true, "T", Some("")),
                    (Some("m"), None, false, "", None),
                ] {
                    let page = ConnectPage {
                        lang,
                        tenant_name: tenant.into(),
                        provider: provider.into(),
                        provider_name: provider.to_uppercase(),
                        member_name: member.map(Into::into),
                        current_account: current.map(Into::into),
                        form_action: "/connect/x".into(),
                        data_centres: zoho_required(lang).data_centres,
                        client: client.clone(),
                        allow_switch: switch,
                        expires_at: "soon".into(),
                        error: error.map(Into::into),
                    };
                    let html = connect(&page);
                    assert_eq!(html, render_connect(&page));
                    let body = &html[html.find("<body>").unwrap()..];
                    assert!(!body.contains('{'), "an unfilled placeholder: {body}");
                    assert!(
                        !body.contains(">none") && !body.contains("none<"),
                        "a None printed: {body}"
                    );
                    assert_eq!(
                        body.contains(r#"class="error""#),
                        error.is_some_and(|e| !e.is_empty())
                    );
                }
            }
        }
    }
}

#[test]
fn result_pages_have_their_titles_and_the_code() {
    let ok = result(&connected(Lang::Ja));
    assert!(ok.contains("<title>接続しました</title>"));
    assert!(ok.contains("HubSpotのアカウント「acme.example (portal 12345678)」に接続しました。"));
    assert!(ok.contains(
        r#"<a class="button" href="https://app.example.com/settings/integrations?tab=crm&amp;ok=1">アプリに戻る</a>"#
    ));
    let no = result(&denied(Lang::Ja));
    assert!(no.contains("<h1>接続がキャンセルされました</h1>"));
    let bad = result(&failed(Lang::Ja));
    assert!(bad.contains("<h1>接続できませんでした</h1>"));
    assert!(bad.contains(r#"<p class="code">エラーコード: link_expired</p>"#));
    assert!(
        bad.contains("このページは閉じてかまいません。"),
        "no return_url"
    );
    assert!(!bad.contains("<a "));

    let en = result(&failed(Lang::En));
    assert!(en.contains("<h1>Could not connect</h1>"));
    assert!(en.contains("Error code: link_expired"));

    // An empty account name or message still reads well.
    let plain = result(&ResultPage {
        lang: Lang::En,
        outcome: Outcome::Connected {
            provider_name: "Zoho CRM".into(),
            account_name: String::new(),
        },
        return_url: None,
    });
    assert!(plain.contains("<p>Zoho CRM is now connected.</p>"));
    let empty = result(&ResultPage {
        lang: Lang::Ja,
        outcome: Outcome::Failed {
            code: "internal".into(),
            message: " ".into(),
        },
        return_url: None,
    });
    assert!(empty.contains(text(Lang::Ja, "error.internal")));
}

// ───────────────────────────── escaping ─────────────────────────────

const EVIL: &str = r#"<script>alert("x")</script>'&"#;
const EVIL_ESCAPED: &str = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&amp;";

#[test]
fn everything_user_supplied_on_the_connect_page_is_escaped() {
    let page = ConnectPage {
        lang: Lang::Ja,
        tenant_name: EVIL.into(),
        provider: "zoho_crm".into(),
        provider_name: EVIL.into(),
        member_name: None,
        current_account: Some(EVIL.into()),
        form_action: format!("/connect/x\"><script>{EVIL}"),
        data_centres: vec![DataCentreOption {
            location: EVIL.into(),
            name: EVIL.into(),
            selected: true,
        }],
        client: ClientField::Required {
            redirect_uri: EVIL.into(),
        },
        allow_switch: true,
        expires_at: EVIL.into(),
        error: Some(EVIL.into()),
    };
    let html = connect(&page);
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("\"x\""), "{html}");
    assert!(html.contains(&format!("「{EVIL_ESCAPED}」を{EVIL_ESCAPED}に接続します。")));
    assert!(html.contains(r#"action="/connect/x&quot;&gt;&lt;script&gt;"#));
    assert!(html.contains(&format!(r#"<option value="{EVIL_ESCAPED}" selected>"#)));

    let member = connect(&ConnectPage {
        member_name: Some(EVIL.into()),
        ..page
    });
    assert!(!member.contains("<script"));
    assert!(member.contains(&format!("{EVIL_ESCAPED}さん個人の")));
}

#[test]
fn a_tenant_name_script_comes_out_escaped() {
    let html = connect(&ConnectPage {
        tenant_name: "<script>".into(),
        ..zoho_required(Lang::En)
    });
    assert!(!html.contains("<script>"));
    assert!(html.contains("You are about to connect &lt;script&gt; to Zoho CRM."));
}

#[test]
fn everything_user_supplied_on_the_result_page_is_escaped() {
    for outcome in [
        Outcome::Connected {
            provider_name: EVIL.into(),
            account_name: EVIL.into(),
        },
        Outcome::Denied {
            provider_name: EVIL.into(),
        },
        Outcome::Failed {
            code: EVIL.into(),
            message: EVIL.into(),
        },
    ] {
        for lang in [Lang::Ja, Lang::En] {
            let html = result(&ResultPage {
                lang,
                outcome: outcome.clone(),
                return_url: None,
            });
            assert!(!html.contains("<script"), "{html}");
            assert!(html.contains(EVIL_ESCAPED), "{html}");
        }
    }
}

#[test]
fn a_return_url_cannot_break_its_attribute() {
    let html = result(&ResultPage {
        return_url: Some(r#"https://app.example.com/x?a="><script>alert(1)</script>&b='"#.into()),
        ..connected(Lang::En)
    });
    assert!(!html.contains("<script"));
    assert!(html.contains(
        r#"href="https://app.example.com/x?a=&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;b=&#39;">"#
    ));
    // The attribute ends where it should: the only `"` left in the tag are its delimiters.
    let tag_start = html.find("<a ").unwrap();
    let tag = &html[tag_start..tag_start + html[tag_start..].find('>').unwrap()];
    assert_eq!(tag.matches('"').count(), 4, "{tag}");
}

#[test]
fn only_http_return_urls_become_links() {
    for (url, linked) in [
        ("https://app.example.com/", true),
        ("http://localhost:3000/settings", true),
        ("HTTPS://APP.EXAMPLE.COM/", true),
        ("javascript:alert(1)", false),
        ("JavaScript:alert(1)", false),
        (" https://app.example.com/", false),
        ("https://app.example.com/a b", false),
        ("https://app.example.com/\n", false),
        ("data:text/html,<script>alert(1)</script>", false),
        ("//evil.example/", false),
        ("/settings", false),
        ("https://", false),
        ("https:///evil", false),
        ("https:\\\\evil", false),
        ("ftp://files.example/", false),
        ("", false),
    ] {
        let html = result(&ResultPage {
            return_url: Some(url.into()),
            ..denied(Lang::Ja)
        });
        assert_eq!(html.contains("<a "), linked, "{url:?}");
        assert_eq!(
            html.contains("このページは閉じてかまいません。"),
            !linked,
            "{url:?}"
        );
    }
}

// ───────────────────────────── texts ─────────────────────────────

#[test]
fn every_key_has_both_languages_with_the_same_placeholders() {
    let mut seen = std::collections::HashSet::new();
    for &(key, ja, en) in i18n::TEXTS {
        assert!(seen.insert(key), "{key} twice");
        assert!(!ja.trim().is_empty() && !en.trim().is_empty(), "{key}");
        assert_ne!(ja, en, "{key}: not translated");
        let mut pj = i18n::placeholders(ja);
        let mut pe = i18n::placeholders(en);
        pj.sort_unstable();
        pe.sort_unstable();
        assert_eq!(pj, pe, "{key}");
        assert_eq!(text(Lang::Ja, key), ja);
        assert_eq!(text(Lang::En, key), en);
        assert_eq!(try_text(Lang::En, key), Some(en));
        for s in [ja, en] {
            assert!(!s.contains(['<', '>', '&']), "{key}: texts are plain text");
        }
        // Japanese texts use full-width punctuation, not a machine-like mix.
        assert!(!ja.contains(". ") && !ja.contains(", "), "{key}");
        if key.starts_with("error.") {
            assert!(pj.is_empty(), "{key}: handler messages have no placeholder");
            assert!(ja.ends_with('。') && en.ends_with('.'), "{key}");
        }
    }
}

#[test]
fn every_shared_and_register_key_exists() {
    for provider in ["hubspot", "salesforce", "zoho_crm", "other"] {
        for key in i18n::shared_keys(provider)
            .iter()
            .chain([&i18n::register_key(provider)])
        {
            assert!(try_text(Lang::Ja, key).is_some(), "{key}");
        }
    }
}

#[test]
fn unknown_keys_and_placeholders() {
    assert_eq!(try_text(Lang::Ja, "no.such.key"), None);
    assert_eq!(
        text(Lang::En, "no.such.key"),
        text(Lang::En, "error.internal")
    );
    assert_eq!(
        text_with(Lang::Ja, "result.error_code", &[("code", "invalid_client")]),
        "エラーコード: invalid_client"
    );
    assert_eq!(
        text_with(
            Lang::En,
            "connect.button",
            &[("provider", "{provider}"), ("x", "y")]
        ),
        "Connect {provider}",
        "a value is not filled again"
    );
    assert_eq!(
        text_with(Lang::En, "connect.button", &[]),
        "Connect {provider}",
        "a missing value stays visible"
    );
    assert_eq!(i18n::fill("a {b", &[("b", "x")]), "a {b");
    assert_eq!(i18n::placeholders("{a} and {b}{c"), ["a", "b"]);
}

#[test]
fn a_broken_template_call_is_an_error_not_a_blank() {
    let mut env = Environment::new();
    env.set_formatter(format_value);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_function("t", t);
    for (source, wanted) in [
        (r#"{{ t("no.such.key") }}"#, "no text has the key"),
        (r#"{{ t("connect.button") }}"#, "needs {provider}"),
        ("{{ missing }}", "undefined"),
    ] {
        let err = env
            .render_str(source, context! { lang => "ja" })
            .unwrap_err();
        assert!(err.to_string().contains(wanted), "{source}: {err}");
    }
    let err = env.render_str(r#"{{ t("connect.button", provider="x") }}"#, context! {});
    assert!(err.is_err(), "t() needs a lang");
}

#[test]
fn the_fallback_page_is_well_formed() {
    assert_well_formed(FALLBACK);
}
