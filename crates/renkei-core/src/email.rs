//! Email addresses as renkei stores and compares them.
//!
//! [`EmailAddress::parse`] accepts what people paste (full-width characters, `<…>`,
//! `mailto:`) and refuses what cannot be an address, so that a member's email, used to map CRM
//! users, and a customer's, used to match CRM records, are never garbage. Free-mail detection
//! and company domains are in [`crate::matching::email`].

use std::fmt;

use crate::matching::nfkc;

/// A syntactically plausible email address, NFKC-normalised, trimmed and case-folded.
///
/// We case-fold the local part too. RFC 5321 allows case-sensitive local parts, but no CRM
/// renkei talks to treats `Taro@` and `taro@` as different people, and matching is the point.
///
/// The local part may contain consecutive dots and end with a dot (`taro..yamada@`,
/// `taro.@`), which RFC 5322 forbids: NTT docomo and au issued such addresses to phones until
/// 2009, their owners still use them, and the carriers still deliver to them, so refusing them
/// would refuse real Japanese customers. A leading dot, which no carrier issued, is refused.
/// The domain is held to the DNS rules: labels of letters, digits and hyphens, no empty label.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("email address must not be empty")]
    Empty,
    #[error("email address {0:?} has no '@'")]
    NoAt(String),
    #[error("email address {0:?} has an empty local part or domain")]
    EmptyPart(String),
    #[error("email address {0:?} contains whitespace or control characters")]
    BadChar(String),
    #[error("email address {0:?} has a domain without a dot")]
    NoDot(String),
    #[error("email address is longer than 254 characters")]
    TooLong,
    #[error(
        "email address {0:?} has a local part that starts with a dot, is longer than 64 \
         characters, or contains one of ()<>[]:;@\\,\""
    )]
    BadLocalPart(String),
    #[error(
        "email address {0:?} has a domain with an empty label (a leading, trailing or doubled \
         dot), a character other than letters, digits and '-', or a numeric top-level label"
    )]
    BadDomain(String),
}

/// The longest address SMTP can carry (RFC 5321 4.5.3.1.3: a 256-octet path minus the angle
/// brackets), and the longest local part (4.5.3.1.1) and DNS label (RFC 1035 2.3.4).
const MAX_ADDRESS: usize = 254;
const MAX_LOCAL: usize = 64;
const MAX_LABEL: usize = 63;

impl EmailAddress {
    /// Parses an address as a person may have typed or pasted it: NFKC first (so
    /// `ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ` is `taro@example.com`), then surrounding whitespace, `<…>`
    /// and a `mailto:` prefix are removed, then the address is case-folded and checked.
    pub fn parse(s: &str) -> Result<Self, EmailError> {
        let folded = nfkc(s);
        let unwrapped = unwrap(&folded);
        if unwrapped.is_empty() {
            return Err(EmailError::Empty);
        }
        // Folding the case can change characters (`İ` becomes `i` and a combining dot), so
        // the checks run on the folded form, NFKC'd again; parsing a parsed address then gives
        // it back unchanged.
        let s = nfkc(&unwrapped.to_lowercase());
        if s.len() > MAX_ADDRESS {
            return Err(EmailError::TooLong);
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(EmailError::NoAt(s));
        };
        if local.is_empty() || domain.is_empty() {
            return Err(EmailError::EmptyPart(s));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailError::BadChar(s));
        }
        if local.len() > MAX_LOCAL
            || local.starts_with('.')
            || local.contains(['(', ')', '<', '>', '[', ']', ':', ';', '@', '\\', ',', '"'])
        {
            return Err(EmailError::BadLocalPart(s));
        }
        if !domain.contains('.') {
            return Err(EmailError::NoDot(s));
        }
        if !domain_is_valid(domain) {
            return Err(EmailError::BadDomain(s));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the last `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

/// Removes what surrounds an address when it is pasted from a mail client or a link:
/// whitespace, `<…>` and `mailto:`, in either order.
fn unwrap(s: &str) -> &str {
    let mut s = s.trim();
    for _ in 0..2 {
        if let Some(inner) = s.strip_prefix('<').and_then(|r| r.strip_suffix('>')) {
            s = inner.trim();
        }
        if let Some(rest) = s
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case("mailto:"))
            .map(|_| &s[7..])
        {
            s = rest.trim();
        }
    }
    s
}

/// DNS host-name rules, extended to internationalised labels written in Unicode: no empty
/// label (so no leading, trailing or doubled dot), labels of letters, digits and hyphens that
/// neither start nor end with a hyphen, at most 63 bytes each, and a top-level label that is
/// not all digits (which would make the domain an IP address).
fn domain_is_valid(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= MAX_LABEL
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    labels.iter().all(label_ok)
        && labels
            .last()
            .is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()))
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl serde::Serialize for EmailAddress {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for EmailAddress {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for EmailAddress {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Email,
            )))
            .into()
    }
}

impl utoipa::ToSchema for EmailAddress {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_folds() {
        let e = EmailAddress::parse("  Taro.Yamada@Example.CO.JP ").unwrap();
        assert_eq!(e.as_str(), "taro.yamada@example.co.jp");
        assert_eq!(e.domain(), "example.co.jp");
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "  ",
            "taro",
            "@example.com",
            "taro@",
            "ta ro@example.com",
            "taro@localhost",
            "taro@example.",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
    }
}
