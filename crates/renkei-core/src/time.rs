//! [`Millis`]: the one timestamp representation renkei stores.
//!
//! Both databases store instants as integer milliseconds since the Unix epoch (UTC). That keeps
//! one SQL dialect for comparisons (`run_at <= $1`) on SQLite and PostgreSQL, lets tests drive
//! the queue with a fake clock, and converts losslessly to RFC 3339 at the API edge.

use std::fmt;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Millis(pub i64);

impl Millis {
    pub fn now() -> Self {
        Self(jiff::Timestamp::now().as_millisecond())
    }

    pub fn from_timestamp(ts: jiff::Timestamp) -> Self {
        Self(ts.as_millisecond())
    }

    pub fn to_timestamp(self) -> jiff::Timestamp {
        // Every value we store came from a valid timestamp, so this only fails on corruption;
        // clamp rather than panic so a damaged row cannot take the API down.
        jiff::Timestamp::from_millisecond(self.0).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    /// RFC 3339 in UTC with millisecond precision, e.g. `2026-11-21T05:35:00.123Z`.
    pub fn to_rfc3339(self) -> String {
        format!("{:.3}", self.to_timestamp())
    }

    pub fn plus_ms(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    pub fn as_i64(self) -> i64 {
        self.0
    }
}

impl fmt::Debug for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl serde::Serialize for Millis {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

/// Reads what [`Serialize`](serde::Serialize) writes (RFC 3339), or integer milliseconds.
impl<'de> serde::Deserialize<'de> for Millis {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Millis;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp or milliseconds since the epoch")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Millis, E> {
                Ok(Millis(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Millis, E> {
                i64::try_from(v)
                    .map(Millis)
                    .map_err(|_| E::custom("timestamp out of range"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Millis, E> {
                v.parse::<jiff::Timestamp>()
                    .map(Millis::from_timestamp)
                    .map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deserialises_rfc3339_and_integers() {
        let m: Millis = serde_json::from_str("\"2026-11-21T05:35:00.123Z\"").unwrap();
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            "\"2026-11-21T05:35:00.123Z\""
        );
        let n: Millis = serde_json::from_str("1700000000000").unwrap();
        assert_eq!(n, Millis(1_700_000_000_000));
        assert!(serde_json::from_str::<Millis>("\"yesterday\"").is_err());
    }

    #[test]
    fn round_trips_rfc3339() {
        let ts: jiff::Timestamp = "2026-11-21T14:35:00.123+09:00".parse().unwrap();
        let m = Millis::from_timestamp(ts);
        assert_eq!(m.to_rfc3339(), "2026-11-21T05:35:00.123Z");
        assert_eq!(m.to_timestamp(), ts);
    }
}
