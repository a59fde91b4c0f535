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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_rfc3339() {
        let ts: jiff::Timestamp = "2026-11-21T14:35:00.123+09:00".parse().unwrap();
        let m = Millis::from_timestamp(ts);
        assert_eq!(m.to_rfc3339(), "2026-11-21T05:35:00.123Z");
        assert_eq!(m.to_timestamp(), ts);
    }
}
