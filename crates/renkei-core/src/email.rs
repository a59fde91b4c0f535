//! Email addresses as renkei stores and compares them.
//!
//! The full matching rules (free-mail detection, domain keys) belong to the matching issue; this
//! type already guarantees the basic shape so that a member's email, used later to map CRM
//! users, is never garbage.

use std::fmt;

/// A syntactically plausible email address, trimmed and case-folded.
///
/// We case-fold the local part too. RFC 5321 allows case-sensitive local parts, but no CRM
/// renkei talks to treats `Taro@` and `taro@` as different people, and matching is the point.
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
}

impl EmailAddress {
    pub fn parse(s: &str) -> Result<Self, EmailError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        if s.len() > 254 {
            return Err(EmailError::TooLong);
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(EmailError::NoAt(s.to_owned()));
        };
        if local.is_empty() || domain.is_empty() {
            return Err(EmailError::EmptyPart(s.to_owned()));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailError::BadChar(s.to_owned()));
        }
        if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return Err(EmailError::NoDot(s.to_owned()));
        }
        Ok(Self(s.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the last `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }
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
