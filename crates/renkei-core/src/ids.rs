//! Validated identifiers chosen by the host app or by renkei.
//!
//! Ids arrive in URL paths and JSON bodies, so each is parsed once at the edge into a newtype
//! and carried as that type afterwards: a function taking a `TenantId` never has to wonder
//! whether the string was checked.

use std::fmt;

/// Why a string is not a valid identifier. The message names the rule that was broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{what} must not be empty")]
    Empty { what: &'static str },
    #[error("{what} is {len} characters long; the maximum is {max}")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{what} may contain only {allowed}; found {found:?}")]
    BadChar {
        what: &'static str,
        allowed: &'static str,
        found: char,
    },
    #[error("unknown provider {0:?}; known providers: {known}", known = ProviderName::ALL.join(", "))]
    UnknownProvider(String),
}

fn check(
    s: &str,
    what: &'static str,
    max: usize,
    allowed: &'static str,
    ok: impl Fn(char) -> bool,
) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty { what });
    }
    let len = s.chars().count();
    if len > max {
        return Err(IdError::TooLong { what, len, max });
    }
    if let Some(found) = s.chars().find(|&c| !ok(c)) {
        return Err(IdError::BadChar {
            what,
            allowed,
            found,
        });
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:expr, $allowed:literal, $ok:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The longest value accepted, in characters.
            pub const MAX_LEN: usize = $max;

            /// Checks `s` and wraps it.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                check(s, $what, $max, $allowed, $ok)?;
                Ok(Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .min_length(Some(1))
                    .max_length(Some($max))
                    .description(Some(concat!($what, ": ", $allowed)))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

fn is_slug(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

// Host-app ids for events and members are opaque to us, but they travel in URLs and logs, so
// control characters and whitespace are refused; everything else printable is allowed.
fn is_opaque(c: char) -> bool {
    !c.is_control() && !c.is_whitespace()
}

string_id!(
    /// A tenant: one customer workspace of the host app (PRODUCT.md section 1).
    TenantId, "tenant id", 64, "ASCII letters, digits, '_' and '-'", is_slug
);
string_id!(
    /// A member: a user of the host app inside a tenant.
    MemberId, "member id", 128, "printable characters without spaces", is_opaque
);
string_id!(
    /// The host app's id of an event, which is also its idempotency key within a tenant.
    EventId, "event id", 200, "printable characters without spaces", is_opaque
);

/// A provider renkei knows by name (PRODUCT.md section 1). Connectors for most of them are not
/// built yet; the name is still valid vocabulary, e.g. in a `room.linked` event.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ProviderName(&'static str);

impl ProviderName {
    pub const ALL: &'static [&'static str] = &[
        "hubspot",
        "salesforce",
        "zoho_crm",
        "zoho_bigin",
        "mazrica",
        "zendesk",
        "zoho_desk",
        "mailchimp",
        "zoho_campaigns",
        "zoho_bookings",
        "zoho_checkout",
        "slack",
    ];

    pub fn parse(s: &str) -> Result<Self, IdError> {
        Self::ALL
            .iter()
            .find(|&&p| p == s)
            .map(|&p| Self(p))
            .ok_or_else(|| IdError::UnknownProvider(s.to_owned()))
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

impl fmt::Display for ProviderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl serde::Serialize for ProviderName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for ProviderName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids() {
        for ok in ["a", "acme", "ACME_01-x", &"x".repeat(64)] {
            assert!(TenantId::parse(ok).is_ok(), "{ok}");
        }
        let cases: &[(&str, &str)] = &[
            ("", "tenant id must not be empty"),
            (
                "a b",
                "tenant id may contain only ASCII letters, digits, '_' and '-'; found ' '",
            ),
            (
                "テナント",
                "tenant id may contain only ASCII letters, digits, '_' and '-'; found 'テ'",
            ),
            (
                "a/b",
                "tenant id may contain only ASCII letters, digits, '_' and '-'; found '/'",
            ),
        ];
        for (bad, msg) in cases {
            assert_eq!(TenantId::parse(bad).unwrap_err().to_string(), *msg);
        }
        assert_eq!(
            TenantId::parse(&"x".repeat(65)).unwrap_err().to_string(),
            "tenant id is 65 characters long; the maximum is 64"
        );
    }

    #[test]
    fn opaque_ids_allow_unicode_but_not_spaces() {
        assert!(EventId::parse("evt:2024/01/01#1").is_ok());
        assert!(MemberId::parse("山田").is_ok());
        assert!(EventId::parse("a\nb").is_err());
        assert!(EventId::parse("a b").is_err());
        assert!(EventId::parse(&"e".repeat(201)).is_err());
    }

    #[test]
    fn ids_deserialize_with_validation() {
        let t: TenantId = serde_json::from_str("\"acme\"").unwrap();
        assert_eq!(t.as_str(), "acme");
        let err = serde_json::from_str::<TenantId>("\"a b\"").unwrap_err();
        assert!(
            err.to_string().contains("tenant id may contain only"),
            "{err}"
        );
    }

    #[test]
    fn providers() {
        assert_eq!(ProviderName::parse("hubspot").unwrap().as_str(), "hubspot");
        let err = ProviderName::parse("hubspt").unwrap_err().to_string();
        assert!(
            err.starts_with("unknown provider \"hubspt\"; known providers: hubspot, "),
            "{err}"
        );
    }
}
